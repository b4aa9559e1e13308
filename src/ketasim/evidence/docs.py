"""Write ``docs/calibration.md`` from the shipped posterior: ``python -m ketasim.evidence.docs [--draws D]``.

Everything in the page is computed here from the shipped files (``ketasim/data/posterior.parquet`` and its
provenance, ``benchmarks/evidence_cost.json``) and from ``D`` posterior draws simulated once each (posterior
predictive summaries: the placebo-arm check, the coverage of the fit set, the drug-minus-placebo contrasts)
plus one simulation at the point estimate (observed baseline SDs).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from ketasim.evidence import space
from ketasim.evidence.likelihood import likelihood_items
from ketasim.evidence.loader import load_evidence
from ketasim.evidence.posterior import load_posterior
from ketasim.evidence.predictive import draw_summaries, placebo_check, predictive_intervals
from ketasim.evidence.simulate import ParameterSet, simulate_evidence

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_INTRO = Path(__file__).with_name("calibration_method.md")


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"


def baseline_sd_check() -> list[dict]:
    """Observed baseline SD of each simulated study (point estimate, 1000 patients) against each arm's
    published SD (95% interval from the chi-square with n - 1 degrees of freedom)."""
    from scipy.stats import chi2

    run = simulate_evidence(ParameterSet.in_force(), n_patients=1000, seed=11, keep_results=True)
    rows = []
    for sid, st in load_evidence().items():
        res = run.results.get(sid)
        if res is None:
            continue
        arm0 = next(iter(res.arms.values()))
        sim_sd = float(np.std(arm0.scores[:, 0], ddof=1))
        for a in st.arms:
            if a.baseline is None or a.baseline.sd is None or a.baseline.tag == "U":
                continue
            n = a.n
            lo = a.baseline.sd * math.sqrt((n - 1) / chi2.ppf(0.975, n - 1))
            hi = a.baseline.sd * math.sqrt((n - 1) / chi2.ppf(0.025, n - 1))
            rows.append({"study": sid, "arm": a.id, "published_sd": a.baseline.sd, "n": n, "low95": lo, "high95": hi,
                         "simulated_sd": sim_sd, "inside": bool(lo <= sim_sd <= hi)})
    return rows


def _resume_note(command: str) -> str:
    return (" (`--resume` was the option of that version; the same command now continues by itself)"
            if "--resume" in command else "")


def page(n_draws: int = 40) -> str:
    post = load_posterior()
    prov = post.provenance
    summaries = draw_summaries(post, n_draws, seed=100)
    sets = post.parameter_sets(n_draws, seed=100)  # the same draws draw_summaries used
    het = post.draws.set_index("draw").loc[[int(ps.label.split()[1]) for ps in sets], list(space.HETEROGENEITY)]
    het.index = summaries.index
    ppi = predictive_intervals(summaries, het, seed=101)
    placebo = placebo_check(summaries)
    bsd = baseline_sd_check()
    cost = json.loads((ROOT / "benchmarks" / "evidence_cost.json").read_text())
    items = likelihood_items()
    studies = sorted({i.study for i in items})
    sec, val = prov["seconds"], prov["validation"]
    intro = TEMPLATE_INTRO.read_text()
    fill = {"__N_ITEMS__": str(len(items)), "__N_STUDIES__": str(len(studies)),
            "__SIM_COST__": f"{cost['wall_s_median']:.2f}", "__SIM_FIRST__": f"{cost['first_wall_s']:.1f}",
            "__PATIENT_ARMS__": f"{cost['patient_arms_per_simulation']:,}",
            "__WAVES__": " + ".join(str(w) for w in prov["config"]["waves"]),
            "__DRAWS__": str(prov["config"]["draws"]), "__VALIDATION__": str(val["draws_simulated"])}
    for key, value in fill.items():
        intro = intro.replace(key, value)
    out = [intro]
    out += ["## The run that made the shipped posterior", "",
            f"`{prov['command']}` on {prov['date']}{_resume_note(prov['command'])}: {prov['simulations']} "
            "simulations of the whole evidence base, "
            f"**{sec['wall_total'] / 60:.1f} minutes of wall time and {sec['cpu_total'] / 60:.1f} minutes of CPU** on "
            "this 2-core machine, run under `nice -n 5` while other jobs shared the cores (load average 4-6).", "",
            "| phase | wall (s) | CPU (s) |", "|---|---|---|"]
    for k in [k[5:] for k in sec if k.startswith("wall_") and k != "wall_total"]:
        out.append(f"| {k.replace('_', ' ')} | {sec['wall_' + k]:.0f} | {sec.get('cpu_' + k, float('nan')):.0f} |")
    out += ["", f"Emulator components per wave: {prov['emulator_components']}.", ""]
    out += ["## The emulator where the posterior mass is", "",
            f"{val['draws_simulated']} posterior draws were simulated after the fit. "
            f"**{100 * val['share_within_2sd']:.0f}% of the {len(items)} simulated summaries lie within 2 predictive "
            f"SD of the emulator** (median |standardised error| {val['median_abs_standardised_error']}; a calibrated "
            "emulator gives about 95% and 0.67). Total log-likelihood at those draws: simulated median "
            f"{val['loglik_simulated_median']}, emulated {val['loglik_emulated_median']}, median absolute difference "
            f"{val['loglik_abs_difference_median']}, correlation {val['loglik_correlation']}. Least well emulated: "
            f"{', '.join(val['worst_items'])}.", ""]
    out += ["## Posterior summary", "", f"{post.n_draws} draws (`ketasim posterior --summary`).", "",
            "| parameter | mean | 5% | median | 95% | R-hat | ESS (bulk) | prior |", "|---" * 8 + "|"]
    for name, r in post.summary().iterrows():
        out.append(f"| {name} | {_fmt(r['mean'])} | {_fmt(r['q05'])} | {_fmt(r['median'])} | {_fmt(r['q95'])} | "
                   f"{_fmt(r['rhat'])} | {_fmt(r['ess_bulk'])} | {r['prior']} |")
    n50, n90 = int(ppi["within_ppi50"].sum()), int(ppi["within_ppi90"].sum())
    inside = int(placebo["inside"].sum())
    out += ["", "## Posterior predictive checks", "",
            f"From {n_draws} posterior draws, each simulated once (its own virtual cohorts), with the draw's "
            "between-study deviation and the published design's sampling noise added.", "",
            f"- **Coverage of the fit set**: {n50} of {len(ppi)} published summaries ({100 * n50 / len(ppi):.0f}%) "
            f"inside their 50% posterior predictive interval, {n90} of {len(ppi)} ({100 * n90 / len(ppi):.0f}%) "
            "inside the 90% interval.",
            f"- **Placebo arms**: the posterior predictive median of {inside} of {len(placebo)} placebo-arm summaries "
            f"({100 * inside / max(len(placebo), 1):.0f}%) lies inside the published 95% interval (issue 10 asks "
            "for at least 80%):", "",
            "| summary | study | arm | published | 95% interval | predictive median | inside |", "|---" * 7 + "|"]
    for _, r in placebo.iterrows():
        out.append(f"| {r['id']} | {r['study']} | {r['arm']} | {r['published']:.4g} | {r['low95']:.4g} to "
                   f"{r['high95']:.4g} | {r['predictive_median']:.4g} | {'yes' if r['inside'] else 'no'} |")
    contrasts = [i for i in items if i.kind == "mean_change_contrast"]
    if contrasts:
        out += ["", "- **Drug-minus-placebo contrasts** (differences of mean change, MADRS points):", "",
                "| contrast | published | 95% interval | predictive median | 90% predictive interval | inside 95% |",
                "|---|---|---|---|---|---|"]
        for it in contrasts:
            row = ppi[ppi["id"] == it.id]
            med = float(np.nanmedian(summaries[it.id])) if it.id in summaries else float("nan")
            se = (it.se or 0) / math.sqrt(it.variance_factor)
            lo, hi = it.value - 1.96 * se, it.value + 1.96 * se
            band = (f"{row['ppi90_low'].iloc[0]:.3g} to {row['ppi90_high'].iloc[0]:.3g}" if len(row) else "-")
            out.append(f"| {it.id} | {it.value:.3g} | {lo:.3g} to {hi:.3g} | {med:.3g} | {band} | "
                       f"{'yes' if lo <= med <= hi else 'no'} |")
    n_in = sum(r["inside"] for r in bsd)
    out += ["", f"- **Observed baseline SD** (never fitted; point estimate, 1000 virtual patients per study): the "
            f"simulated SD lies inside the 95% interval of the published SD (chi-square, n - 1) for {n_in} of "
            f"{len(bsd)} arms that publish one:", "",
            "| study | arm | n | published SD | 95% interval | simulated SD | inside |", "|---" * 7 + "|"]
    for r in bsd:
        out.append(f"| {r['study']} | {r['arm']} | {r['n']} | {r['published_sd']:.3g} | {r['low95']:.3g} to "
                   f"{r['high95']:.3g} | {r['simulated_sd']:.3g} | {'yes' if r['inside'] else 'no'} |")
    from ketasim.evidence.loo import PARETO_K_OK, leave_one_study_out

    loo_table, loo_ppi = leave_one_study_out(summaries, het, seed=101)
    l50, l90 = int(loo_ppi["within_ppi50"].sum()), int(loo_ppi["within_ppi90"].sum())
    shaky = loo_table[~loo_table["reliable"]]
    out += ["", "## Leave one study out", "",
            "Each study predicted from the posterior without it: the same draws reweighted by the inverse of the "
            "study's likelihood, the weights Pareto-smoothed (PSIS, `ketasim.evidence.loo`, ArviZ). "
            f"**{l50} of {len(loo_ppi)} published summaries ({100 * l50 / len(loo_ppi):.0f}%) inside their "
            f"leave-one-study-out 50% interval, {l90} ({100 * l90 / len(loo_ppi):.0f}%) inside the 90% interval.** "
            f"Pareto k above {PARETO_K_OK} (the reweighting is not to be trusted; such a study needs a refit "
            f"without it, not done here): {', '.join(shaky['study']) if len(shaky) else 'none'}.", "",
            "| study | Pareto k | effective draws | summaries | inside 50% | inside 90% |", "|---" * 6 + "|"]
    for _, r in loo_table.iterrows():
        out.append(f"| {r['study']} | {r['pareto_k']:.2f} | {r['effective_draws']:.1f} | {int(r['summaries'])} | "
                   f"{100 * r['within_ppi50']:.0f}% | {100 * r['within_ppi90']:.0f}% |")
    from ketasim.evidence.predictive import plot_predictive_check

    figure = ROOT / "docs" / "calibration" / "predictive_check.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    plot_predictive_check(ppi, loo_ppi, figure)
    out += ["", "![posterior predictive check](calibration/predictive_check.png)", ""]
    misses = ppi[~ppi["within_ppi90"]]
    out += ["", "## Published summaries outside their 90% predictive interval", ""]
    out += [f"- {r['id']} ({r['study']}): published {r['published']:.4g}, 90% predictive interval "
            f"{r['ppi90_low']:.4g} to {r['ppi90_high']:.4g}" for _, r in misses.iterrows()] or ["None."]
    out += ["", "Regenerate this page with `python -m ketasim.evidence.docs` (about a minute per 40 draws).", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "calibration.md")
    args = ap.parse_args()
    args.out.write_text(page(args.draws))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
