"""The SMTP edge: policy, the aiosmtpd handler and protocol, and the listener lifecycle."""
