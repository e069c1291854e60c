"""The guard that fails a test on any HTTP request it did not arrange."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fake_api import fake_api
from tests.support.offline import UNARRANGED, UnarrangedRequest, offline


def test_a_request_to_the_default_api_address_is_refused_and_recorded() -> None:
    with offline() as refused:
        with pytest.raises(UnarrangedRequest):
            httpx.post(f"{UNARRANGED}/cgi-bin/message/custom/send?access_token=t", json={})
        with pytest.raises(UnarrangedRequest):
            httpx.get("https://api.weixin.qq.com/cgi-bin/stable_token")
    assert refused == [f"{UNARRANGED}/cgi-bin/message/custom/send", "https://api.weixin.qq.com/cgi-bin/stable_token"]


def test_a_fake_api_server_the_test_stood_up_is_reached() -> None:
    with fake_api() as api, offline() as refused:
        assert httpx.post(f"{api.base}/cgi-bin/message/custom/send", json={}).json()["errcode"] == 0
    assert refused == []
