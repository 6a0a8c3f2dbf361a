"""Answer quality (issue 11): the rubric, blinded rating sheets, inter-rater agreement,
human review of classifications and the automatic quality criteria.

Modules: :mod:`.rubric` (criteria and scales from the study), :mod:`.blinding` (neutral
labels for company names, domains, addresses), :mod:`.criteria` (automatic checks with
evidence), :mod:`.sheets` (XLSX/CSV export and validated import), :mod:`.agreement`
(Krippendorff's alpha, adjudication), :mod:`.overrides` (human classification decisions and
the effective kind), :mod:`.quality` (quality per probe for metrics and the report).
"""
