"""What the report says about answer quality and classification review (methods section,
company profiles). Texts in English and German live here, so the report's own i18n stays
untouched; the templates are ``_rating.html`` (methods) and the marks in ``_probe.html``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from ..store import Store
from ..study import Study
from .agreement import agreement
from .overrides import review_summary
from .quality import quality_scores

TEXTS = {
    "en": {
        "title": "Answer quality and review by people",
        "raters": "Raters", "none": "none", "criterion": "Criterion", "alpha": "Krippendorff's α",
        "level": "scale", "units": "units rated twice or more", "items": "replies rated",
        "settled": "Disagreements: {n} value(s) were settled by adjudication (a final value "
                   "recorded by the study lead); elsewhere the raters' mean counts.",
        "no_ratings": "No reply was rated by people; quality figures come from the automatic "
                      "criteria (checklist coverage, personal salutation, template answer, "
                      "signature by a person, language).",
        "sources": "Quality figures per reply come from: {sources}.",
        "source_adjudicated": "adjudicated ratings", "source_raters": "mean ratings",
        "source_automatic": "automatic criteria",
        "review": "Classification review: {uncertain} classification(s) were flagged as "
                  "uncertain; people confirmed {confirmed} and changed {changed} "
                  "classification(s){changes}. A person's decision overrides the classifier "
                  "in every figure.",
        "classifier_agreement": "The classifier agreed with people's decisions in {share} of "
                                "{n} case(s).",
        "rater_checks": "Raters confirmed the classification of {n} reply(ies) while rating; "
                        "they agreed with it in {share}.",
        "uncertain": "uncertain", "set_by": "set by", "template": "template answer",
        "checks": "Automatic criteria",
        "template_like": "{share} the same as reply #{id}",
        "template_pointer": "points elsewhere and covers no checklist fact",
        "check_template": "template answer", "check_language": "language of the inquiry",
        "check_salutation": "personal salutation", "check_signed": "signed by a person",
        "check_ticket": "ticket reference", "check_readability": "readability",
        "quality_rule": "Quality rule: a reply's quality is a score from 0 to 1. Where people "
                        "rated it, each criterion's score is the adjudicated value where one was "
                        "recorded, else the mean of the raters' scores (per-fact criteria: the "
                        "mean over the facts), and quality is the weighted mean over the "
                        "criteria. Otherwise it comes from the automatic criteria: checklist "
                        "coverage (weight 50), personal salutation (15), not a template answer "
                        "(15), signed by a person (10), in the inquiry's language (10). A "
                        "template answer is a near-duplicate of the company's reply to another "
                        "scenario, or a reply that covers no checklist fact and points "
                        "elsewhere (help centre, FAQ, hotline).",
        "yes": "yes", "no": "no", "company": "Company", "quality": "Quality",
        "n_replies": "replies", "templates": "template answers", "source": "from",
    },
    "de": {
        "title": "Antwortqualität und Prüfung durch Menschen",
        "raters": "Bewertende", "none": "keine", "criterion": "Kriterium",
        "alpha": "Krippendorffs α", "level": "Skala", "units": "mehrfach bewertete Einheiten",
        "items": "bewertete Antworten",
        "settled": "Abweichungen: {n} Wert(e) wurden durch eine abschließende Entscheidung der "
                   "Studienleitung festgelegt; sonst zählt der Mittelwert der Bewertenden.",
        "no_ratings": "Keine Antwort wurde von Menschen bewertet; die Qualitätswerte stammen aus "
                      "den automatischen Kriterien (Abdeckung der Prüfpunkte, persönliche "
                      "Anrede, Textbaustein, Unterschrift einer Person, Sprache).",
        "sources": "Die Qualitätswerte je Antwort stammen aus: {sources}.",
        "source_adjudicated": "abschließend entschiedenen Bewertungen",
        "source_raters": "gemittelten Bewertungen", "source_automatic": "automatischen Kriterien",
        "review": "Prüfung der Einstufung: {uncertain} Einstufung(en) waren als unsicher "
                  "markiert; Menschen haben {confirmed} bestätigt und {changed} geändert"
                  "{changes}. Eine Entscheidung eines Menschen ersetzt die automatische in allen "
                  "Kennzahlen.",
        "classifier_agreement": "Die automatische Einstufung stimmte in {share} von {n} Fällen "
                                "mit der Entscheidung der Menschen überein.",
        "rater_checks": "Die Bewertenden haben die Einstufung von {n} Antwort(en) beim Bewerten "
                        "geprüft und ihr in {share} zugestimmt.",
        "uncertain": "unsicher", "set_by": "festgelegt von", "template": "Textbaustein",
        "checks": "Automatische Kriterien",
        "template_like": "zu {share} gleich der Antwort #{id}",
        "template_pointer": "verweist woanders hin und deckt keinen Punkt der Checkliste ab",
        "check_template": "Textbaustein", "check_language": "Sprache der Anfrage",
        "check_salutation": "persönliche Anrede", "check_signed": "von einer Person unterschrieben",
        "check_ticket": "Vorgangsnummer", "check_readability": "Lesbarkeit",
        "quality_rule": "Qualitätsregel: Die Qualität einer Antwort ist ein Wert von 0 bis 1. "
                        "Wurde sie von Menschen bewertet, zählt je Kriterium der abschließend "
                        "entschiedene Wert, sonst der Mittelwert der Bewertenden (bei Kriterien "
                        "je Prüfpunkt: der Mittelwert über die Prüfpunkte); die Qualität ist "
                        "der gewichtete Mittelwert über die Kriterien. Sonst stammt sie aus den "
                        "automatischen Kriterien: Abdeckung der Prüfpunkte (Gewicht 50), "
                        "persönliche Anrede (15), kein Textbaustein (15), von einer Person "
                        "unterschrieben (10), in der Sprache der Anfrage (10). Ein Textbaustein "
                        "ist eine nahezu gleiche Antwort desselben Unternehmens auf ein anderes "
                        "Szenario oder eine Antwort, die keinen Prüfpunkt abdeckt und auf "
                        "Hilfebereich, FAQ oder Hotline verweist.",
        "yes": "ja", "no": "nein", "company": "Unternehmen", "quality": "Qualität",
        "n_replies": "Antworten", "templates": "Textbausteine", "source": "Grundlage",
    },
}


def _pct(v: float | None, lang: str) -> str:
    if v is None:
        return "–"
    s = f"{v * 100:.0f} %"
    return s if lang == "de" else s.replace(" %", "%")


def rating_methods(study: Study, store: Store, now: datetime,
                   outcomes: Any = None) -> dict[str, Any]:
    """Everything ``_rating.html`` shows: raters, alpha per criterion, how disagreements were
    settled, where quality figures come from, and the classification review."""
    lang = study.language if study.language in TEXTS else "en"
    t = TEXTS[lang]
    agr = agreement(study, store, top=0)
    q = quality_scores(study, store, now, outcomes)
    sources = Counter(s for s in q["quality_source"] if s) if not q.empty else Counter()
    rev = review_summary(store)
    changes = ", ".join(f"{a} → {b}" for a, b in rev["changes"])
    lines = [
        t["review"].format(uncertain=rev["n_uncertain"], confirmed=rev["n_confirmed"],
                           changed=rev["n_changed"], changes=f" ({changes})" if changes else ""),
    ]
    if rev["n_decided"]:
        lines.append(t["classifier_agreement"].format(share=_pct(rev["agreement"], lang),
                                                      n=rev["n_decided"]))
    if rev["n_rater_checks"]:
        lines.append(t["rater_checks"].format(n=rev["n_rater_checks"],
                                              share=_pct(rev["rater_check_agreement"], lang)))
    companies = []
    if not q.empty:
        names = {c.id: c.name for c in study.companies}
        for cid, g in q.groupby("company_id", sort=False):
            vals = [v for v in g["quality"] if v is not None and v == v]
            src = Counter(s for s in g["quality_source"] if s)
            companies.append({
                "company": names.get(cid, cid), "n": len(vals),
                "quality": _pct(sum(vals) / len(vals), lang) if vals else "–",
                "mean": sum(vals) / len(vals) if vals else None,
                "templates": int(sum(1 for v in g["template"] if v is True)),
                "source": ", ".join(f"{t['source_' + k]} ({n})" for k, n in sorted(
                    src.items()))})
        companies.sort(key=lambda r: (r["mean"] is None, -(r["mean"] or 0), r["company"]))
    per_probe = {int(r["probe_id"]): {"quality": _pct(r["quality"], lang) if r[
        "quality"] == r["quality"] and r["quality"] is not None else "–",
        "source": t["source_" + r["quality_source"]] if r["quality_source"] else ""}
        for r in q.to_dict("records")} if not q.empty else {}
    return {
        "t": t,
        "companies": companies,
        "per_probe": per_probe,
        "raters": agr.raters,
        "n_items": agr.n_items,
        "criteria": [{"label": c.label, "level": c.level, "units": c.n_units,
                      "alpha": "–" if c.alpha is None else f"{c.alpha:.2f}"}
                     for c in agr.criteria if c.n_items],
        "settled": t["settled"].format(n=agr.n_adjudicated) if agr.raters else "",
        "sources": t["sources"].format(sources=", ".join(
            f"{t['source_' + k]} ({n})" for k, n in sorted(sources.items()))) if sources else "",
        "no_ratings": "" if agr.raters else t["no_ratings"],
        "review": lines,
    }


def check_labels(language: str) -> dict[str, str]:
    """Labels for the automatic criteria, for company profiles."""
    t = TEXTS.get(language, TEXTS["en"])
    return {k[len("check_"):]: v for k, v in t.items() if k.startswith("check_")}
