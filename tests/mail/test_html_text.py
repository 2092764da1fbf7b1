"""HTML rendering: what a reader sees, with the structure reply extraction needs."""

from __future__ import annotations

import pytest

from backend.mail.html_text import HR_LINE, html_to_text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Line one<br>Line two<br><br>Line four", "Line one\nLine two\n\nLine four"),
        ("<ul><li>first</li><li>second</li></ul>", "- first\n- second"),
        ("<ol><li>first</li><li>second</li></ol>", "1. first\n2. second"),
        ("<p>Hi</p><blockquote><p>quoted</p><blockquote>nested</blockquote></blockquote>",
         "Hi\n\n> quoted\n>\n> > nested"),
        ("<div>a</div><hr><div>b</div>", f"a\n{HR_LINE}\nb"),
        ("<table><tr><td>From</td><td>Pam</td></tr><tr><td>Link</td><td>x</td></tr></table>", "From  Pam\nLink  x"),
        ("<p>before</p><pre>  indented\n    code</pre>", "before\n\n  indented\n    code"),
        ("<p>caf&eacute; &amp; &lt;tag&gt;&nbsp;x</p>", "café & <tag> x"),
        ("<h1>Title</h1><p>text</p>", "Title\n\ntext"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_rendering(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_invisible_content_is_dropped() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style><script>var x=1;</script></head>"
        "<body><div style='display:none'>preheader</div><!-- comment --><p>Visible</p>"
        "<span style='mso-hide:all'>outlook only</span></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_outlook_word_paragraphs_are_lines_and_empty_ones_are_gaps() -> None:
    html = (
        '<p class="MsoNormal">Hello,</p><p class="MsoNormal">&nbsp;</p>'
        '<p class="MsoNormal">Two issues today.</p><p class="MsoNormal">&nbsp;</p>'
        '<p class="MsoNormal">Thanks,</p><p class="MsoNormal">Deb</p>'
    )
    assert html_to_text(html) == "Hello,\n\nTwo issues today.\n\nThanks,\nDeb"


def test_mark_quotes_quotes_outlook_history_without_blockquote() -> None:
    html = (
        "<div>Approved.</div><div id='divRplyFwdMsg'><b>From:</b> Pam<br><b>Sent:</b> Monday</div>"
        "<div>Original text</div>"
    )
    assert html_to_text(html) == "Approved.\nFrom: Pam\nSent: Monday\nOriginal text"
    assert html_to_text(html, mark_quotes=True) == "Approved.\n> From: Pam\n> Sent: Monday\n> Original text"


def test_deeply_nested_html_does_not_hit_the_recursion_limit() -> None:
    html = "<div>" * 5000 + "deep" + "</div>" * 5000
    assert html_to_text(html) == "deep"


def test_broken_html_is_repaired() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>both</p><p>next") == "unclosed bold both\n\nnext"
