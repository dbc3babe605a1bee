"""One module per service: endpoints, request shapes, status mapping, default pacing."""
