"""The ``kcost`` command line."""
