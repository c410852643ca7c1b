"""`python -m dml_keras` runs the `dml` command line."""

from dml_keras.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
