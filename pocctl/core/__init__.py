"""What every layer uses: errors, reporting, config and names, the context, AWS helpers, the one
retry loop, call telemetry, sessions, preflight, pacing and ARNs. Imports nothing of pocctl's
above it."""
