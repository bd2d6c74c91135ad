"""The recipe engine: a recipe in, a resumable run dir out. Bookkeeping (hashes, DONE files, resume, run records,
reports) lives here and nowhere else; stages know nothing of it."""
