import sys

# Python keeps each module's bytecode, unless PYTHONDONTWRITEBYTECODE says not to (this
# machine's environment does): then every test worker compiled pocctl, and pytest rewrote the
# asserts of every test module, again at each run. The test run keeps it, as Python does by
# default (set here: the package is imported before its conftest, which imports pocctl). The
# files are in .gitignore, and never in a function's zip (packaging.SKIPPED_PARTS); the
# `pocctl` processes the tests start read them too.
sys.dont_write_bytecode = False
