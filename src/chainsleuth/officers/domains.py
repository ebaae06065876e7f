"""E-mail domains: free webmail (never an agency's official domain) and domain matching.

The list holds the large free and disposable mail providers; a provider that exists under
many country domains (``yahoo.co.uk``, ``gmx.de``) is listed by its name in
``WEBMAIL_BRANDS`` and matched on any public suffix.
"""

from __future__ import annotations

from collections.abc import Iterable

#: free webmail and disposable-mail domains, matched exactly or as a parent domain
WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "passport.com",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aim.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tutanota.de",
        "tutamail.com",
        "tuta.io",
        "tuta.com",
        "zoho.com",
        "zohomail.com",
        "mail.com",
        "email.com",
        "usa.com",
        "fastmail.com",
        "fastmail.fm",
        "hushmail.com",
        "hey.com",
        "duck.com",
        "mailfence.com",
        "posteo.de",
        "posteo.net",
        "web.de",
        "freenet.de",
        "t-online.de",
        "mail.ru",
        "inbox.ru",
        "list.ru",
        "bk.ru",
        "rambler.ru",
        "ukr.net",
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        "libero.it",
        "virgilio.it",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "o2.pl",
        "wp.pl",
        "interia.pl",
        "onet.pl",
        "seznam.cz",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "bigpond.com",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        # disposable mail
        "mailinator.com",
        "guerrillamail.com",
        "sharklasers.com",
        "10minutemail.com",
        "temp-mail.org",
        "yopmail.com",
        "trashmail.com",
        "getnada.com",
        "dispostable.com",
        "maildrop.cc",
    }
)
#: providers found under many country suffixes: yahoo.com, yahoo.co.jp, gmx.net, ...
WEBMAIL_BRANDS = frozenset({"yahoo", "gmx", "yandex", "hotmail", "outlook", "live", "aol"})
#: second-level labels of country suffixes (``co.uk``, ``com.br``)
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ne", "or"})


def email_domain(email: str) -> str:
    """The domain part of an address, lower-case, without a trailing dot."""
    _, _, domain = email.strip().rpartition("@")
    return domain.lower().rstrip(".")


def _parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def is_webmail(domain: str) -> bool:
    """Whether ``domain`` (or a domain above it) is a free or disposable mail provider."""
    domain = domain.lower().rstrip(".")
    if any(parent in WEBMAIL_DOMAINS for parent in _parents(domain)):
        return True
    labels = domain.split(".")
    # brand.tld or brand.co.tld (yahoo.fr, yahoo.co.uk), and any subdomain of those
    for i, label in enumerate(labels[:-1]):
        if label in WEBMAIL_BRANDS:
            rest = labels[i + 1 :]
            if len(rest) == 1 or (len(rest) == 2 and rest[0] in _SECOND_LEVEL):
                return True
    return False


def matches(domain: str, official: Iterable[str]) -> str | None:
    """The official domain that ``domain`` is, or is a subdomain of; None if none."""
    domain = domain.lower().rstrip(".")
    for candidate in official:
        c = candidate.lower().rstrip(".")
        if domain == c or domain.endswith("." + c):
            return c
    return None
