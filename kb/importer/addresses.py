"""What the links of a list item point to: the paper's address as stored, its DOI and arXiv id, code repositories.

An address is cleaned before it is stored (session tokens dropped, ftp and broken links left out, a scheme-less
`domain/path` read as https), each change noted for the report. An arXiv id comes from the paper's link or, when the
link has none, from an id written in the text (`arXiv:1405.3866`), and is checked the way arXiv issues ids.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from kb.catalog.identifiers import find_arxiv, normalize_doi
from kb.importer.fields import Fields, Skip
from kb.importer.markdown_links import Link

_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "gitee.com", "codeberg.org", "sourceforge.net")
_FRAMEWORKS = [
    (re.compile(r"pytorch|torch", re.I), "pytorch"),
    (re.compile(r"tensorflow|\btf\b", re.I), "tensorflow"),
    (re.compile(r"keras", re.I), "keras"),
    (re.compile(r"\bjax\b|flax", re.I), "jax"),
    (re.compile(r"caffe", re.I), "caffe"),
    (re.compile(r"mxnet|gluon", re.I), "mxnet"),
    (re.compile(r"paddle", re.I), "paddle"),
    (re.compile(r"onnx", re.I), "onnx"),
    (re.compile(r"c\+\+|\bcuda\b|\bcpp\b", re.I), "cpp"),
    (re.compile(r"matlab|theano|chainer|darknet|lasagne", re.I), "other"),
]
# Shops, blog platforms, video and social sites: a link there is a book, a post or a talk, never the paper itself.
NOT_PAPER_HOST = re.compile(
    r"(?:^|\.)(?:amazon\.[a-z.]+|medium\.com|youtube\.com|youtu\.be|twitter\.com|x\.com|reddit\.com)$"
)
_SESSION_PARAMS = {"casa_token", "token", "sessionid", "session_id", "jsessionid", "phpsessid", "sid", "auth"}


def code_link(link: Link) -> dict[str, object] | None:
    """A code link from `[PyTorch(Author)](https://github.com/...)`, or None for a link to something else."""
    host = urlsplit(link.url).netloc.lower().removeprefix("www.")
    says_code = re.search(r"\bcode\b|implementation|reimpl", link.text, re.I)
    framework = next((name for pattern, name in _FRAMEWORKS if pattern.search(link.text)), None)
    document = re.search(r"\.(?:pdf|md|html?)$", urlsplit(link.url).path, re.I)
    on_code_host = any(host == h or host.endswith("." + h) for h in _CODE_HOSTS) and not document
    if not (on_code_host or says_code or framework) or re.search(r"deleted|removed", link.text, re.I):
        return None
    if not link.url.lower().startswith(("http://", "https://")):
        return None
    found: dict[str, object] = {"url": link.url}
    if framework:
        found["framework"] = framework
    if re.search(r"author|official", link.text, re.I):
        found["official"] = True
    return found


def clean_url(url: str, fields: Fields) -> str | None:
    """The link as stored: session tokens dropped, ftp and broken links left out; each noted for the report.

    Raises:
        Skip: For a link that is neither http(s), ftp nor broken text: a relative link or another scheme.
    """
    if re.match(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+/", url, re.IGNORECASE):  # `microsoft.com/en-us/...`
        fields.notes.append(f"link without a scheme, read as https: {url}")
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme.lower() == "ftp":
        fields.notes.append(f"fragile link (ftp), paper kept without it: {url}")
        return None
    if " " in url.strip():  # `[Title](Title)`: the list put text where the address belongs
        fields.notes.append(f"broken link (not an address), paper kept without it: {url}")
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise Skip(f"link is not an http(s) address: {url}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k.lower() not in _SESSION_PARAMS]
    if len(kept) != len(query):
        dropped = ", ".join(sorted({k for k, _ in query} - {k for k, _ in kept}))
        fields.notes.append(f"fragile link (session token {dropped}), stored without it: {url}")
        url = urlunsplit(parts._replace(query=urlencode(kept)))
    return url


def doi_from_url(url: str) -> str | None:
    """The DOI of a resolver or publisher URL (`doi.org/10...`, `.../doi/abs/10...`, Springer `article/10...`)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc.lower().endswith("doi.org"):
        candidate = path.lstrip("/")
    else:
        match = re.search(r"/(?:doi(?:/(?:abs|full|pdf|pdfplus|epdf))?|article|chapter)/(10\.\d{4,9}/\S+)", path)
        candidate = match.group(1) if match else ""
    if not candidate.startswith("10."):
        return None
    try:
        return normalize_doi(candidate)
    except ValueError:
        return None


ARXIV_TEXT = re.compile(r"\barxiv:\s?(\d{4}\.\d+)(?:v\d+)?", re.IGNORECASE)


def _checked_arxiv(arxiv: str | None) -> str | None:
    """The id as arXiv issued it, or None for no id.

    Until 2014 the number after the dot has four digits (`1412.06550`, zero-padded by some lists, is 1412.6550), from
    2015 five; a month outside 01-12 is no id. Old-style ids (`cs/0112017`) pass as they are.
    """
    match = re.fullmatch(r"(\d{2})(\d{2})\.(\d+)", arxiv or "")
    if match is None:
        return arxiv
    yy, mm, number = match.groups()
    if int(yy) < 15 and len(number) == 5 and number.startswith("0"):
        number = number[1:]
    return f"{yy}{mm}.{number}" if 1 <= int(mm) <= 12 and len(number) == (5 if int(yy) >= 15 else 4) else None


def read_arxiv(url: str | None, text: str, fields: Fields) -> None:
    """Set the arXiv id from the paper's link, else from an id written in the text (`arXiv:1405.3866`)."""
    linked = find_arxiv(url) if url else None
    written = [(m.group(0), m.group(1)) for m in ARXIV_TEXT.finditer(text)]
    for shown, arxiv in [*([(url, linked)] if linked else []), *written]:
        fields.arxiv = _checked_arxiv(arxiv)
        if fields.arxiv:
            fields.url = f"https://arxiv.org/abs/{fields.arxiv}"
            return
        fields.notes.append(f"malformed arXiv id left out, paper kept without it: {shown}")
