"""HTTP and WebSocket API. Routes are declared once (hearing.api.registry) and the same
declaration drives routing, request validation and the OpenAPI description."""
