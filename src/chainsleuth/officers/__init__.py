"""Verified law-enforcement officers: sign-up from an agency's official domain, e-mail
verification, approval, periodic re-verification, and the sender confidence that reviewers
see on each request. Mail leaves through an outbox (``mail_outbox``)."""
