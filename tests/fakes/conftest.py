from tests.fakes.fixtures import fake_ses, fake_slack, fake_twilio, moto_server

__all__ = ["fake_ses", "fake_slack", "fake_twilio", "moto_server"]
