"""The code of the ticket-routing model: hooks that config/model.yaml names."""
