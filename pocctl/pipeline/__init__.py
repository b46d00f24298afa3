"""The pipeline: its steps and their graph (stack.py) and running them (engine.py)."""
