"""A local stand-in for Twilio's Messages API (``hub fake-twilio``): Twilio-shaped answers, magic recipients,
signed status callbacks, and a record of every call. See ``behaviour`` for the magic-recipient table."""

from hub.faketwilio.behaviour import MAGIC_PREFIX, FakeConfig
from hub.faketwilio.server import FakeTwilio, serve
from hub.faketwilio.testing import FakeTwilioHandle, start_fake_twilio

__all__ = ["MAGIC_PREFIX", "FakeConfig", "FakeTwilio", "FakeTwilioHandle", "serve", "start_fake_twilio"]
