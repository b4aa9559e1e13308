"""Published pharmacokinetic models of ketamine and esketamine, as data.

Each :class:`PKModel` is a linear mammillary model of the parent drug with an optional
metabolite (norketamine), and per-route absorption inputs. Values are for a 70 kg
adult; :func:`ketasim.exposure.system.build_system` applies allometric scaling
(volumes ^1, clearances ^0.75). Units: L, L/h, 1/h.

Norketamine disposition for the racemic models is the S-norketamine model of Simons 2022
(no racemic norketamine model of the same source exists in our references): status assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ketasim.errors import PlanError
from ketasim.parameters import Parameter

MW_KETAMINE = 237.73  # g/mol
MW_NORKETAMINE = 223.70  # g/mol


@dataclass(frozen=True)
class Disposition:
    """Central volume ``v1`` (L), clearance ``cl`` (L/h) and peripheral ``(volume L, Q L/h)`` pairs."""

    v1: float
    cl: float
    peripherals: tuple[tuple[float, float], ...] = ()

    @property
    def vss(self) -> float:
        return self.v1 + sum(v for v, _ in self.peripherals)


@dataclass(frozen=True)
class Absorption:
    """One path by which a dose reaches the circulation.

    ``fraction`` of the dose enters ``target`` (``parent`` or ``metabolite``), directly
    (``ka`` None: infusion or bolus into the central compartment) or through a depot
    emptied at first-order rate ``ka`` (1/h).
    """

    fraction: float
    target: str = "parent"
    ka: float | None = None


@dataclass(frozen=True)
class PKModel:
    """A published PK model: disposition of parent and metabolite, routes, and its citation.

    ``enantiomer_s`` is the S fraction of the parent (0.5 racemic, 1.0 esketamine), and of
    the metabolite formed from it. ``device_fraction_decay`` (intranasal only) multiplies the
    nasally absorbed fraction of each later device of one administration (Perez-Ruixo 2021).
    """

    name: str
    drug: str
    citation: str
    parent: Disposition
    metabolite: Disposition | None
    fraction_metabolised: float
    routes: dict[str, tuple[Absorption, ...]]
    enantiomer_s: float
    iiv_omega2: dict[str, float] = field(default_factory=dict)
    device_fraction_decay: float = 1.0
    parameters: tuple[Parameter, ...] = ()


def _p(model: str, name: str, value: float, unit: str, source: str, status: str, description: str) -> Parameter:
    return Parameter(f"{model}.{name}", value, unit, source, status, description, f"exposure:{model}")  # type: ignore[arg-type]


# Simons 2022 (S-)norketamine disposition: VN2 221 L, CL 1.0 L/min.
_NORKETAMINE_SIMONS = Disposition(v1=221.0, cl=60.0)
_SIMONS = "Simons 2022 (norketamine VN 221 L, CL 1.0 L/min; 80% of ketamine clearance forms norketamine)"

# Racemic routes other than IV (F values: literature.md; absorption rates assumed).
_RACEMIC_EXTRAVASCULAR = {
    "im": (Absorption(0.93, "parent", 6.0),),
    "oral": (Absorption(0.17, "parent", 1.5), Absorption(0.60, "metabolite", 1.5)),
    "sublingual": (Absorption(0.29, "parent", 2.0), Absorption(0.40, "metabolite", 1.5)),
    "intranasal": (Absorption(0.13, "parent", 4.0),),
}

_ROUTE_PARAMETERS = (
    ("F_im", 0.93, "1", "literature.md: IM F 93%", "literature", "bioavailability, intramuscular"),
    ("ka_im", 6.0, "1/h", "assumed: Tmax 5-30 min", "assumed", "absorption rate, intramuscular"),
    ("F_oral", 0.17, "1", "Hasan 2021 Anesthesiology 135:326 (oral F 15-19%)", "literature",
     "bioavailability, oral racemic"),
    ("F_sublingual", 0.29, "1", "Rolan 2014 (sublingual F 29%)", "literature", "bioavailability, sublingual"),
    ("F_intranasal", 0.13, "1", "literature.md: IN racemic F 17/13/11% at 10/30/50 mg", "literature",
     "bioavailability, intranasal racemic"),
    ("f_presystemic_nk_oral", 0.60, "1", "assumed: extensive first-pass norketamine formation (Fanta 2015)",
     "assumed", "fraction of an oral dose reaching the circulation as norketamine"),
)


def _racemic(name: str, citation: str, parent: Disposition, pk_params: tuple[Parameter, ...],
             omega2: dict[str, float]) -> PKModel:
    routes = {"iv": (Absorption(1.0, "parent", None),), **_RACEMIC_EXTRAVASCULAR}
    extra = tuple(_p(name, *row) for row in _ROUTE_PARAMETERS)  # type: ignore[misc]
    nk = (
        _p(name, "fm", 0.80, "1", _SIMONS, "literature", "fraction of ketamine clearance forming norketamine"),
        _p(name, "V_norketamine", 221.0, "L/70kg", _SIMONS, "assumed", "norketamine volume (S-norketamine value)"),
        _p(name, "CL_norketamine", 60.0, "L/h/70kg", _SIMONS, "assumed",
           "norketamine clearance (S-norketamine value)"),
    )
    return PKModel(name, "racemic", citation, parent, _NORKETAMINE_SIMONS, 0.80, routes, 0.5,
                   omega2, parameters=pk_params + nk + extra)


# Kamp 2020 meta-analysis gives Vss 252 L and CL 79 L/h per 70 kg. The split of Vss into a
# central and a peripheral volume, and Q, are assumed so that 0.5 mg/kg over 40 min at 70 kg
# peaks near the clinical 185 ng/mL (Zarate 2006 via Zanos 2018 Table 1).
_KAMP_V1, _KAMP_Q = 95.0, 220.0
KAMP_2020 = _racemic(
    "kamp2020",
    "Kamp J et al. Ketamine pharmacokinetics: a systematic review, meta-analysis and population analysis. "
    "Anesthesiology 2020;133:1192-1213. doi:10.1097/ALN.0000000000003577",
    Disposition(v1=_KAMP_V1, cl=79.0, peripherals=((252.0 - _KAMP_V1, _KAMP_Q),)),
    (
        _p("kamp2020", "CL", 79.0, "L/h/70kg", "Kamp 2020 (95% CI 69-90)", "literature", "ketamine clearance"),
        _p("kamp2020", "Vss", 252.0, "L/70kg", "Kamp 2020 (95% CI 200-304)", "literature",
           "ketamine volume of distribution at steady state"),
        _p("kamp2020", "V1", _KAMP_V1, "L/70kg", "assumed: peak 185 ng/mL after 0.5 mg/kg/40 min (Zarate 2006)",
           "assumed", "central volume"),
        _p("kamp2020", "Q", _KAMP_Q, "L/h/70kg", "assumed: as V1", "assumed", "intercompartmental clearance"),
    ),
    {"CL": 0.25**2, "V": 0.25**2},
)

# Domino 1984: V1 0.063 L/kg; k10 0.4381, k12 0.5921, k13 0.59, k21 0.247, k31 0.0146 per min.
_D_V1 = 0.063 * 70.0
_D_K = {"k10": 0.4381, "k12": 0.5921, "k13": 0.59, "k21": 0.247, "k31": 0.0146}
DOMINO_1984 = _racemic(
    "domino1984",
    "Domino EF et al. Ketamine kinetics in unmedicated and diazepam-premedicated subjects. "
    "Clin Pharmacol Ther 1984;36:645-653",
    Disposition(
        v1=_D_V1, cl=_D_K["k10"] * _D_V1 * 60.0,
        peripherals=(
            (_D_V1 * _D_K["k12"] / _D_K["k21"], _D_K["k12"] * _D_V1 * 60.0),
            (_D_V1 * _D_K["k13"] / _D_K["k31"], _D_K["k13"] * _D_V1 * 60.0),
        ),
    ),
    tuple(_p("domino1984", k, v, "1/min", "Domino 1984", "literature", f"rate constant {k}")
          for k, v in _D_K.items()) + (_p("domino1984", "V1", 0.063, "L/kg", "Domino 1984", "literature",
                                          "central volume"),),
    {"CL": 0.25**2, "V": 0.25**2},
)

# Clements 1981: V1 1.7522 L/kg; k10 0.0109, k12 0.0186, k21 0.0137 per min.
_C_V1 = 1.7522 * 70.0
CLEMENTS_1981 = _racemic(
    "clements1981",
    "Clements JA, Nimmo WS. Pharmacokinetics and analgesic effect of ketamine in man. Br J Anaesth 1981;53:27-30",
    Disposition(v1=_C_V1, cl=0.0109 * _C_V1 * 60.0,
                peripherals=((_C_V1 * 0.0186 / 0.0137, 0.0186 * _C_V1 * 60.0),)),
    (
        _p("clements1981", "V1", 1.7522, "L/kg", "Clements 1981", "literature", "central volume"),
        _p("clements1981", "k10", 0.0109, "1/min", "Clements 1981", "literature", "elimination rate constant"),
        _p("clements1981", "k12", 0.0186, "1/min", "Clements 1981", "literature", "rate constant 1->2"),
        _p("clements1981", "k21", 0.0137, "1/min", "Clements 1981", "literature", "rate constant 2->1"),
    ),
    {"CL": 0.25**2, "V": 0.25**2},
)

HERD_2007 = _racemic(
    "herd2007",
    "Herd DW, Anderson BJ, Holford NHG. Modeling the norketamine metabolite in children and the implications "
    "for analgesia. Paediatr Anaesth 2007;17:831-840",
    Disposition(v1=38.7, cl=90.0, peripherals=((102.0, 215.0),)),
    (
        _p("herd2007", "V1", 38.7, "L/70kg", "Herd 2007", "literature", "central volume"),
        _p("herd2007", "V2", 102.0, "L/70kg", "Herd 2007", "literature", "peripheral volume"),
        _p("herd2007", "CL", 90.0, "L/h/70kg", "Herd 2007", "literature", "clearance"),
        _p("herd2007", "Q", 215.0, "L/h/70kg", "Herd 2007", "literature", "intercompartmental clearance"),
    ),
    {"CL": 0.25**2, "V": 0.25**2},
)

_OTTO_CITE = ("Otto 2021 S-ketamine/S-norketamine model (values as in nlmixr2lib Otto_2021_s_ketamine); "
              "Fanta S et al. Eur J Clin Pharmacol 2015;71:441-447")
_OTTO_NK = Disposition(v1=98.6, cl=57.7, peripherals=((160.0, 42.8),))
OTTO_2021 = PKModel(
    "otto2021", "esketamine", _OTTO_CITE,
    Disposition(v1=133.0, cl=95.2, peripherals=((187.0, 23.2), (98.8, 157.0))),
    _OTTO_NK, 1.0,
    {
        "iv": (Absorption(1.0, "parent", None),),
        "im": (Absorption(0.93, "parent", 6.0),),
        "oral": (Absorption(0.08, "parent", 1.5), Absorption(0.70, "metabolite", 1.5)),
        "sublingual": (Absorption(0.26, "parent", 2.0), Absorption(0.40, "metabolite", 1.5)),
    },
    1.0,
    {"CL": 0.026, "V": 0.084},
    parameters=(
        _p("otto2021", "V1", 133.0, "L/70kg", _OTTO_CITE, "literature", "S-ketamine central volume"),
        _p("otto2021", "CL", 95.2, "L/h/70kg", _OTTO_CITE, "literature", "S-ketamine clearance"),
        _p("otto2021", "Vp1", 187.0, "L/70kg", _OTTO_CITE, "literature", "peripheral volume 1"),
        _p("otto2021", "Q1", 23.2, "L/h/70kg", _OTTO_CITE, "literature", "intercompartmental clearance 1"),
        _p("otto2021", "Vp2", 98.8, "L/70kg", _OTTO_CITE, "literature", "peripheral volume 2"),
        _p("otto2021", "Q2", 157.0, "L/h/70kg", _OTTO_CITE, "literature", "intercompartmental clearance 2"),
        _p("otto2021", "V_norketamine", 98.6, "L/70kg", _OTTO_CITE, "literature", "S-norketamine central volume"),
        _p("otto2021", "CL_norketamine", 57.7, "L/h/70kg", _OTTO_CITE, "literature", "S-norketamine clearance"),
        _p("otto2021", "Vp_norketamine", 160.0, "L/70kg", _OTTO_CITE, "literature",
           "S-norketamine peripheral volume"),
        _p("otto2021", "Q_norketamine", 42.8, "L/h/70kg", _OTTO_CITE, "literature",
           "S-norketamine intercompartmental clearance"),
        _p("otto2021", "F_oral", 0.08, "1", "Fanta 2015 EJCP 71:441", "literature", "oral bioavailability"),
        _p("otto2021", "F_sublingual", 0.26, "1", "Simons 2022 (oral-mucosal F 26.3%)", "literature",
           "sublingual bioavailability"),
    ),
)

# Perez-Ruixo 2021: nasal fraction FRn 0.54 for the first device, x0.62 for each later one,
# ka_nasal 2.93/h; swallowed part: Fgut 0.64 then hepatic extraction CL/Qh = 114/151.
_PR = "Perez-Ruixo C et al. Population pharmacokinetics of esketamine nasal spray. Clin Pharmacokinet 2021;60:501"
_PR_FRN, _PR_KA, _PR_FGUT, _PR_FH = 0.54, 2.93, 0.64, 1.0 - 114.0 / 151.0
PEREZ_RUIXO_2021 = PKModel(
    "perezruixo2021", "esketamine", _PR,
    Disposition(v1=192.0, cl=114.0, peripherals=((143.0, 84.3), (417.0, 37.6))),
    _OTTO_NK, 1.0,
    {
        # Fractions of a device's dose; the nasal fraction is scaled per device (device_fraction_decay).
        "intranasal": (
            Absorption(_PR_FRN, "parent", _PR_KA),
            Absorption((1.0 - _PR_FRN) * _PR_FGUT * _PR_FH, "parent", 1.0),
            Absorption((1.0 - _PR_FRN) * _PR_FGUT * (1.0 - _PR_FH), "metabolite", 1.0),
        ),
    },
    1.0,
    {"CL": 0.20**2, "V": 0.275**2, "ka": 0.615**2},
    device_fraction_decay=0.62,
    parameters=(
        _p("perezruixo2021", "Vc", 192.0, "L/70kg", _PR, "literature", "central volume"),
        _p("perezruixo2021", "Vp1", 143.0, "L/70kg", _PR, "literature", "peripheral volume 1"),
        _p("perezruixo2021", "Q1", 84.3, "L/h/70kg", _PR, "literature", "intercompartmental clearance 1"),
        _p("perezruixo2021", "Vp2", 417.0, "L/70kg", _PR, "literature", "peripheral volume 2"),
        _p("perezruixo2021", "Q2", 37.6, "L/h/70kg", _PR, "literature", "intercompartmental clearance 2"),
        _p("perezruixo2021", "CL", 114.0, "L/h/70kg", _PR, "literature", "total clearance"),
        _p("perezruixo2021", "FRn", _PR_FRN, "1", _PR, "literature", "nasally absorbed fraction, first device"),
        _p("perezruixo2021", "FRn_decay", 0.62, "1", _PR, "literature", "factor on FRn for each later device"),
        _p("perezruixo2021", "ka_nasal", _PR_KA, "1/h", _PR, "literature", "nasal absorption rate"),
        _p("perezruixo2021", "Fgut", _PR_FGUT, "1", _PR, "literature", "gut availability of the swallowed part"),
        _p("perezruixo2021", "Qh", 151.0, "L/h", _PR, "literature",
           "hepatic blood flow; hepatic availability 1 - CL/Qh (simplification: assumed)"),
        _p("perezruixo2021", "ka_gut", 1.0, "1/h", "assumed", "assumed", "absorption rate of the swallowed part"),
    ),
)

PK_MODELS: dict[str, PKModel] = {
    m.name: m for m in (KAMP_2020, DOMINO_1984, CLEMENTS_1981, HERD_2007, OTTO_2021, PEREZ_RUIXO_2021)
}

DEFAULT_MODEL = {
    ("racemic", "iv"): "kamp2020", ("racemic", "im"): "kamp2020", ("racemic", "oral"): "kamp2020",
    ("racemic", "sublingual"): "kamp2020", ("racemic", "intranasal"): "kamp2020",
    ("esketamine", "iv"): "otto2021", ("esketamine", "im"): "otto2021", ("esketamine", "oral"): "otto2021",
    ("esketamine", "sublingual"): "otto2021", ("esketamine", "intranasal"): "perezruixo2021",
}


class UnknownPKNameError(PlanError, KeyError):
    """An unknown PK model or route: a user error (a :class:`PlanError`) that is also a ``KeyError``."""

    __str__ = Exception.__str__


def get_model(name: str) -> PKModel:
    """The PK model called ``name``; the error lists the names allowed."""
    try:
        return PK_MODELS[name]
    except KeyError:
        raise UnknownPKNameError("pk_models", name, f"one of {', '.join(PK_MODELS)}") from None


def all_pk_parameters() -> list[Parameter]:
    """Parameters of every PK model, for the parameter table."""
    return [p for m in PK_MODELS.values() for p in m.parameters]
