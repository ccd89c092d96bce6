"""Where the repository's files are: the one place the bench derives paths from."""
