def test_catalogue_page_renders_on_an_empty_box_office(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "What's on" in response.get_data(as_text=True)


def test_every_badge_a_template_names_outright_has_a_style():
    """A badge without a rule of its own shows as bare text (as "Disputed" once did)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    css = (root / "static/css/boxoffice.css").read_text()
    named = {name for page in (root / "templates").rglob("*.html")
             for name in re.findall(r"\bbadge--([a-z_-]+)(?![a-z_-]*\{)", page.read_text())}
    assert "disputed" in named
    assert sorted(name for name in named if f".badge--{name} " not in css and f".badge--{name}," not in css) == []
