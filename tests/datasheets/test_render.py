from alttrain.datasheets.render import flatten_report, redact_url


def test_redact_url_drops_credentials_and_query() -> None:
    assert redact_url("https://user:sk-secret@api.example.com:8443/v1?key=sk-secret#x") == (
        "https://api.example.com:8443/v1")
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


def test_flatten_names_nested_report_figures() -> None:
    report = {"input": 10, "filters": [{"name": "length", "dropped": 2}, {"name": "lang", "dropped": 1}],
              "agreement": {"mean": 0.8, "kinds": ["a", "b"]}, "empty": []}
    assert flatten_report(report) == [("input", 10), ("filters.length.dropped", 2), ("filters.lang.dropped", 1),
                                ("agreement.mean", 0.8), ("agreement.kinds", "a, b"), ("empty", "(none)")]
