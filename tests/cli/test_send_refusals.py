"""``hub send`` refuses what the send could not do, before a run exists (exit 1, naming file and line)."""

from __future__ import annotations

from cli_project import Project

AUDIENCE = "audience: {recipients: [{phone: '+4915123456789', first_name: Ada}]}\n"


def test_send_refuses_a_campaign_whose_template_file_does_not_compile(project: Project) -> None:
    project.write("templates/messages/broken.j2", "Hi\n{{ first_name \n")
    project.write("campaigns/bad.yaml", "template: broken.j2\n" + AUDIENCE)
    result = project.hub("send", "bad")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: campaigns/bad.yaml: template: Jinja syntax error (broken.j2, line 2)")
    assert not (project.root / "hub.db").exists()  # refused before the ledger was opened: no run


def test_send_refuses_an_inline_body_that_does_not_compile(project: Project) -> None:
    project.write("campaigns/bad.yaml", 'body: "Hi {% if %}"\n' + AUDIENCE)
    result = project.hub("send", "bad")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: campaigns/bad.yaml: body: Jinja syntax error (template line 1)")
