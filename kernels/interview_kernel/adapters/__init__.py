"""One adapter per language family; the kernel loads the one its language names."""
