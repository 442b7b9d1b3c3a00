"""`python -m server`: the notebook and its streaming upload route (see `server`)."""

from server import main

main()
