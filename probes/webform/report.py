"""What a form visit found and did, for people: the field mapping and why, the outcome,
and the evidence files. ``probe_form`` is what ``servicebench probe-form URL`` runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fields import Decision


@dataclass
class FormReport:
    url: str
    final_url: str = ""
    frame_url: str = ""
    page_status: int | None = None
    status: int | None = None
    steps: int = 0
    submit_button: str = ""
    decisions: list[Decision] = field(default_factory=list)
    captcha: dict[str, Any] | None = None
    invisible_captchas: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # why the form must not be submitted (a message that does not fit, a required field
    # without a value): a probe fails with them, a dry run shows them
    blockers: list[str] = field(default_factory=list)
    message_text: str = ""  # "full" / "short" / "none": what the message field got
    notes: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    outcome: str = ""  # empty for a dry run
    message: str = ""
    submitted_click: bool = False
    verdict: Any = None

    @property
    def filled(self) -> dict[str, str]:
        """kind -> value for everything the form was given."""
        out: dict[str, str] = {}
        for d in self.decisions:
            if d.action == "check":
                key = d.kind if d.kind not in out else f"{d.kind}:{d.field.name if d.field else ''}"
                out[key] = "☑"
            elif d.action != "leave":
                out[d.kind] = d.value
        return out

    @property
    def unfilled_required(self) -> list[str]:
        return [d.field.describe() for d in self.decisions
                if d.field and d.field.required and d.action == "leave"
                and d.kind not in ("hidden", "honeypot")]

    def mapping(self) -> dict[str, Any]:
        return {"url": self.url, "frame": self.frame_url if self.frame_url != self.url else None,
                "steps": self.steps, "submit_button": self.submit_button,
                "fields": [d.as_dict() for d in self.decisions],
                "unfilled_required": self.unfilled_required,
                "captcha": self.captcha, "invisible_captchas": self.invisible_captchas,
                "warnings": self.warnings, "blockers": self.blockers,
                "message_text": self.message_text or None, "notes": self.notes,
                "evidence": self.evidence,
                "outcome": self.outcome or None, "message": self.message or None}

    def lines(self) -> list[str]:
        out = [f"form: {self.url}"]
        if self.frame_url and self.frame_url != self.url:
            out.append(f"  inside a frame: {self.frame_url}")
        out.append(f"  steps: {self.steps}, submit: {self.submit_button or '(none found)'}")
        acted = [d for d in self.decisions if d.action != "leave"]
        left = [d for d in self.decisions if d.action == "leave"]
        out += ["  " + d.line() for d in acted]
        out += ["  " + d.line() for d in left]
        for r in self.unfilled_required:
            out.append(f"  ! required but unfilled: {r}")
        if self.captcha:
            out.append(f"  ! CAPTCHA: {self.captcha['kind']} ({self.captcha['what']}): "
                       "a probe would be recorded as blocked")
        if self.invisible_captchas:
            out.append("  note: invisible CAPTCHA scripts: " + ", ".join(self.invisible_captchas))
        out += [f"  ! would not be submitted: {b}" for b in self.blockers]
        if self.message_text == "short":
            out.append("  note: the message field got the scenario's short text")
        out += [f"  warning: {w}" for w in self.warnings]
        out += [f"  note: {n}" for n in self.notes]
        if self.outcome:
            out.append(f"  outcome: {self.outcome}: {self.message}")
        out += [f"  evidence: {k}: {v}" for k, v in self.evidence.items()]
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def probe_form(url: str, persona: Any = None, scenario: Any = None, out_dir: Path | str = ".",
               *, timeout: float = 45.0, headless: bool = True) -> FormReport:
    """Open ``url``, fill the form as ``persona`` writing ``scenario``, screenshot it into
    ``out_dir``, and stop before submitting. Persona and scenario default to samples."""
    from servicebench.clock import SystemClock

    from .fields import FormInput
    from .flow import FormVisit
    from .session import BrowserSession

    persona = persona or sample_persona()
    scenario = scenario or sample_scenario()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str, data: bytes, kind: str) -> str:
        (out / name).write_bytes(data)
        return str(out / name)

    fi = FormInput(persona=persona, subject=scenario.subject, body=scenario.body,
                   email=persona.email, topic=getattr(scenario, "topic", ""),
                   short=getattr(scenario, "short", "") or "")
    session = BrowserSession(headless=headless)
    try:
        ctx = session.context()
        page = ctx.new_page()
        visit = FormVisit(page, url, fi, timeout=timeout, now=SystemClock().now, save=save)
        try:
            return visit.run(submit=False)
        finally:
            ctx.close()
    finally:
        session.close()


def sample_persona() -> Any:
    from servicebench.study import Persona
    return Persona(id="sample", name="Erika Mustermann", email="erika.mustermann@example.org",
                   salutation="Frau", phone="+49 30 1234567", postcode="10115", city="Berlin")


def sample_scenario() -> Any:
    from servicebench.study import Scenario
    return Scenario(id="sample", subject="Frage zur Kündigung meines Vertrags",
                    body="Guten Tag,\n\nwie kann ich meinen Vertrag kündigen, und welche Frist "
                         "gilt dabei?\n\nMit freundlichen Grüßen\nErika Mustermann",
                    topic="Vertrag")
