"""Test helpers: a fake TickTick server to run your own tests against.

Use `FakeTickTick` as a context manager, or the ``fake_ticktick`` pytest
fixture that installing ticktick-oauth registers::

    def test_my_app(fake_ticktick):
        oauth = fake_ticktick.oauth2(cache_path=tmp_path / "token")
        assert oauth.get_access_token() in fake_ticktick.issued
"""

from .server import FakeTickTick, Fault, IssuedToken, RecordedRequest, approve

__all__ = ["FakeTickTick", "Fault", "IssuedToken", "RecordedRequest", "approve"]
