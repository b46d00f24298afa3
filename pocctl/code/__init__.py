"""The functions' code: the bundled handlers and policies, packaging, the handler check and the
dependencies' resolution."""
