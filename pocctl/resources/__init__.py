"""One module per kind of AWS resource; each step finds, plans, applies and destroys its own."""
