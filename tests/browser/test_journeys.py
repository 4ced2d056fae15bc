"""Journeys a person makes, in a real browser against a real server."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp

from tests.browser.conftest import ADMIN, PASSWORD, Server, shot, sign_in


def test_admin_onboards_a_client_and_enables_a_plugin(page: Any, server: Server) -> None:
    sign_in(page, ADMIN, pyotp.TOTP(server.admin_totp_secret).now())
    assert page.url.endswith("/admin")
    assert page.get_by_role("heading", name="管理コンソール").is_visible()
    shot(page, "admin-console")
    page.get_by_role("link", name="テナント", exact=True).first.click()
    page.get_by_role("link", name="新しいクライアントを登録").click()
    page.get_by_label("スラッグ").fill("kaede-denki")
    page.get_by_label("クライアント名", exact=True).fill("かえで電機株式会社")
    page.get_by_label("業務時間").fill("09:00-18:00")
    page.get_by_role("button", name="保存").click()
    assert page.url.endswith("/admin/tenants/kaede-denki")
    card = page.locator('section[data-plugin="intake"]')
    card.get_by_label("このクライアントで有効にする").check()
    card.locator('textarea[name="setting.inbound_addresses"]').fill(
        "support@kaede-denki.example.jp"
    )
    postal = 'input[name="setting.contact_fields"][value="postal_code"]'
    card.locator(postal).uncheck()  # the web form without a postal code
    card.get_by_role("button", name="プラグイン設定を保存").click()
    card = page.locator('section[data-plugin="intake"]')
    assert card.locator(".tag").inner_text() == "有効"
    assert not card.locator(postal).is_checked()
    assert card.locator('input[name="setting.contact_fields"][value="phone"]').is_checked()
    assert (
        card.locator('textarea[name="setting.inbound_addresses"]').input_value()
        == "support@kaede-denki.example.jp"
    )
    shot(page, "admin-tenant")
    # the same validation as a manifest: a bad colour-free slug is refused with the field named
    page.goto("/admin/tenants/new")
    page.get_by_label("スラッグ").fill("kaede-denki")
    page.get_by_label("クライアント名", exact=True).fill("重複")
    page.get_by_role("button", name="保存").click()
    assert "slug" in page.locator(".flash.error").inner_text()


def test_operator_switches_between_two_clients_and_the_banner_follows(
    page: Any, server: Server
) -> None:
    sign_in(page, "op.two@bpo.example.jp")
    assert page.url.endswith("/t/mitsubachi-honpo/")
    banner = page.get_by_test_id("client-name")
    assert banner.inner_text() == "みつばち本舗株式会社"
    shot(page, "operator-workspace")
    page.get_by_role("combobox", name="クライアント").select_option("sakura-sonpo")
    page.wait_for_url(re.compile(r".*/t/sakura-sonpo/$"))
    assert page.get_by_test_id("client-name").inner_text() == "さくら損害保険株式会社"
    options = page.get_by_role("combobox", name="クライアント").locator("option").all_inner_texts()
    assert sorted(options) == sorted(["みつばち本舗株式会社", "さくら損害保険株式会社"])
    # a customer page names the client and the customer; a reveal needs a purpose
    page.get_by_role("link", name="顧客一覧", exact=True).first.click()
    page.get_by_role("link", name="開く").first.click()
    assert page.get_by_test_id("client-name").inner_text() == "さくら損害保険株式会社"
    masked = page.get_by_test_id("customer-name").inner_text()
    assert "**" in masked
    page.get_by_label("電話番号").check()
    page.get_by_label("閲覧目的").select_option("callback")
    page.get_by_role("button", name="表示する").click()
    revealed = page.get_by_test_id("revealed-phone").inner_text()
    assert re.fullmatch(r"0\d{10}", revealed)
    shot(page, "customer-reveal")


def test_client_viewer_cannot_reach_another_client_by_editing_the_url(
    page: Any, server: Server
) -> None:
    sign_in(page, "viewer@sakura-sonpo.example.jp")
    assert page.url.endswith("/t/sakura-sonpo/portal")
    assert page.get_by_test_id("client-name").inner_text() == "さくら損害保険株式会社"
    assert page.locator("svg.chart rect.bar").count() == 14
    shot(page, "client-portal")
    for url in (
        "/t/mitsubachi-honpo/portal",
        "/t/mitsubachi-honpo/customers",
        "/t/aoba-city/",
        "/api/v1/t/mitsubachi-honpo/customers",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
    assert "ページが見つかりません" in page.goto("/t/mitsubachi-honpo/portal").text()
    page.goto("/t/mitsubachi-honpo/portal")
    shot(page, "error-not-found")
    admin = page.goto("/admin")
    assert admin is not None and admin.status == 403
    # and within their own client, a viewer sees the access log but no customer data
    page.goto("/t/sakura-sonpo/portal/access-log")
    assert page.get_by_role("heading", name="アクセスログ").is_visible()
    assert page.goto("/t/sakura-sonpo/customers").status == 403  # type: ignore[union-attr]


def test_language_switch_is_remembered_for_the_user(
    page: Any, browser: Any, server: Server
) -> None:
    sign_in(page, "cs@mitsubachi-honpo.example.jp")
    assert page.get_by_role("button", name="ログアウト").is_visible()
    page.get_by_role("button", name="English").click()
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert page.get_by_role("heading", name="Client portal").is_visible()
    shot(page, "client-portal-en")
    page.get_by_role("button", name="Sign out").click()
    # a new browser (no language cookie) shows the login page in Japanese, and the user's
    # choice returns once they sign in
    fresh = browser.new_context(base_url=server.url, locale="ja-JP").new_page()
    sign_in(fresh, "cs@mitsubachi-honpo.example.jp")
    assert fresh.get_by_role("button", name="Sign out").is_visible()
    fresh.get_by_role("button", name="日本語").click()
    assert fresh.get_by_role("button", name="ログアウト").is_visible()
    fresh.context.close()


def test_operator_takes_replies_to_and_resolves_an_inquiry(page: Any, server: Server) -> None:
    import httpx

    from tests.browser.conftest import cli_token

    token = cli_token(server, "op.two@bpo.example.jp", "mitsubachi-honpo")
    created = httpx.post(
        f"{server.url}/api/v1/t/mitsubachi-honpo/inquiries",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "browser-1"},
        json={
            "channel": "email",
            "subject": "定期便のお届け日",
            "priority": 1,
            "body": "次回のお届けを月末に変更できますか。",
            "email": "teiki@example.jp",
        },
    )
    assert created.status_code == 201
    receipt = created.json()["receipt_no"]
    page.goto("/t/mitsubachi-honpo/contact")
    assert page.get_by_role("heading", name="みつばち本舗株式会社 お問い合わせ").is_visible()
    shot(page, "contact-form")
    sign_in(page, "op.two@bpo.example.jp")
    page.get_by_role("link", name="問い合わせ", exact=True).click()
    assert page.get_by_text(receipt).is_visible()
    page.get_by_role("button", name="次を取る").click()
    assert receipt in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_test_id("client-name").inner_text() == "みつばち本舗株式会社"
    page.get_by_label("本文").fill("月末のお届けに変更いたしました。")
    page.get_by_role("button", name="送信").click()
    assert page.locator(".msg-reply .msg-body").inner_text() == "月末のお届けに変更いたしました。"
    page.get_by_label("状態").select_option("resolved")
    page.get_by_role("button", name="保存").click()
    assert page.locator("p .tag").first.inner_text() == "解決"
    shot(page, "inquiry")


def test_a_grant_waits_for_the_clients_admin_who_approves_it_in_the_portal(
    page: Any, server: Server, browser: Any
) -> None:
    """The admin makes an account and asks for an operator role; the new person chooses their
    own password through the invitation; the client's admin sees who asked and approves."""
    # a code of the next 30-second step: the admin's current one may be spent already
    sign_in(page, ADMIN, pyotp.TOTP(server.admin_totp_secret).at(time.time() + 30))
    page.goto("/admin/users")
    create = page.locator("form[action='/admin/users']")
    create.locator("input[name=email]").fill("new.op@bpo.example.jp")
    create.locator("input[name=name]").fill("新人 太郎")
    create.locator("button[type=submit]").click()
    link = page.get_by_test_id("invitation-url").inner_text()
    ask = page.locator("form[action='/admin/grants']")
    ask.locator("input[name=email]").fill("new.op@bpo.example.jp")
    ask.locator("select[name=role]").select_option("operator")
    ask.locator("select[name=tenant]").select_option("mitsubachi-honpo")
    ask.locator("button[type=submit]").click()
    assert "承認後に有効" in page.locator(".flash.ok").inner_text()
    page.goto("/admin/approvals")
    shot(page, "admin-approvals")
    assert page.get_by_role("button", name="承認").count() == 0  # the admin cannot decide
    newcomer = browser.new_context(base_url=server.url, locale="ja-JP").new_page()
    newcomer.goto(link)
    newcomer.locator("input[name=password]").fill(PASSWORD + "-new")
    newcomer.get_by_label("新しいパスワード（確認）").fill(PASSWORD + "-new")
    newcomer.get_by_role("button", name="パスワードを設定").click()
    assert newcomer.url.endswith("/login")
    newcomer.context.close()
    client = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, locale="ja-JP"
    ).new_page()
    sign_in(client, "cs@mitsubachi-honpo.example.jp")
    client.goto("/t/mitsubachi-honpo/portal")
    client.get_by_role("link", name=re.compile("当社の顧客情報にアクセスできる担当者")).click()
    row = client.locator("tr", has_text="new.op@bpo.example.jp")
    assert "admin@madoguchi.example" in row.inner_text()  # who asked
    row.get_by_role("button", name="承認").click()
    held = client.get_by_test_id("access-grants").locator("tr", has_text="new.op@bpo.example.jp")
    assert "cs@mitsubachi-honpo.example.jp" in held.inner_text()  # approved by
    shot(client, "portal-access")
    client.context.close()
