"""Response packages of law-enforcement requests: gathering, minimisation, signed delivery,
and the request metrics."""
