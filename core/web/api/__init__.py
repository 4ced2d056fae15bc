"""The core's HTTP API routes, by area (they are web-layer code over each area's services)."""
