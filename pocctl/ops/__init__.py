"""What commands do with a stack: deploy and teardown (the application services behind `up` and
`down`), and the after-the-fact work: health (status), the sweep, test-order, logs, ls, redrive,
invoke, watch."""
