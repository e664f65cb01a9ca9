"""The private HTTP layer: the retrying session whose every request has one deadline.

Nothing here is public API; `ticktick.requests_retry_session` is its public face.
"""
