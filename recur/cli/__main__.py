"""`python -m recur.cli`: how `recur up` starts its workers."""

from recur.cli import main

if __name__ == "__main__":
    main()
