"""The local org: a real HTTPS server speaking the subset of Salesforce's REST API Relay uses."""
