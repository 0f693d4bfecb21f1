"""Relay: a self-hosted Email-to-Salesforce BCC relay."""

__version__ = "0.1.0"
