def test_catalogue_page_renders_on_an_empty_box_office(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "What's on" in response.get_data(as_text=True)
