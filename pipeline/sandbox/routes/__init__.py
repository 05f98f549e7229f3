"""The sandbox's routes, one module per resource; each module's ``routes(state)`` lists its own."""
