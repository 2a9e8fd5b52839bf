"""Proposal generation: sizing worked by hand on the `trading_fund` fixture
(tests/fixtures/trading_fund.py)."""

import datetime as dt
from decimal import Decimal as D

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from core.calendar import anbima_days, business_days_ending
from portfolio import services as book_services
from portfolio.models import AuditRecord, Instrument, Position, Price
from portfolio.services import TradeRequest
from risk import selectors as risk_selectors
from risk.models import RiskLimit
from tests.conftest import TODAY
from tests.factories import Di1Factory
from tests.fixtures.trading_fund import DAYS, SIGMA_BP, SIGMA_PRICE, signal
from trading import selectors as trading_selectors
from trading import services
from trading.models import TradeProposal

YESTERDAY = DAYS[-2]


def generate(day: dt.date = TODAY) -> services.ProposalBatch:
    return services.proposal_generate(date=day, actor="pm")


def proposal(symbol: str, strategy: str = "MACRO", day: dt.date = TODAY) -> TradeProposal:
    return TradeProposal.objects.get(instrument__symbol=symbol, strategy__code=strategy, date=day)


def test_sizing_a_price_instrument_in_a_foreign_currency(trading_fund):
    signal("ESH4", "MACRO", "0.5")
    result = generate()
    assert len(result.created) == 1 and result.skipped == []
    esh4 = proposal("ESH4")
    # unit value = P × m × X = 5000 × 50 × 5.00 = 1,250,000 BRL per unit return
    # target = 0.5 × 1,000,000 / (0.0100344670 × 1,250,000) = 500,000 / 12,543.08 = 39.8626
    # trade = 39.8626 − 0 → 40 contracts (lot 1), a buy
    assert (esh4.quantity, esh4.direction, esh4.status) == (D("40"), "buy", "pending")
    rationale = esh4.rationale
    assert D(rationale["sigma"]) == pytest.approx(SIGMA_PRICE, rel=D("1e-12"))
    assert rationale["sigma_unit"] == "return"
    assert D(rationale["unit_value"]) == D("1250000")
    assert D(rationale["fx_rate"]) == D("5") and D(rationale["price"]) == D("5000")
    target = D("0.5") * D("1000000") / (SIGMA_PRICE * D("1250000"))
    assert abs(D(rationale["target"]) - target) < D("0.000002")
    assert D(rationale["current"]) == 0 and rationale["score"] == "0.500000"


def test_sizing_a_yield_instrument_against_the_current_position(trading_fund):
    signal("DI1F27", "MACRO", "-0.8")
    generate()
    di = proposal("DI1F27")
    # unit value = DV01 × X = 25 BRL per bp
    # target = −0.8 × 1,000,000 / (10.0843897 × 25) = −800,000 / 252.1097 = −3,173.2213
    # trade = −3,173.2213 − (−100) = −3,073.2213 → −3,073 contracts, a sell
    assert (di.quantity, di.direction) == (D("-3073"), "sell")
    assert D(di.rationale["sigma"]) == pytest.approx(SIGMA_BP, rel=D("1e-12"))
    assert di.rationale["sigma_unit"] == "bp"
    assert D(di.rationale["unit_value"]) == D("25")
    assert D(di.rationale["current"]) == D("-100")
    assert abs(D(di.rationale["target"]) - D("-3173.221287")) < D("0.000002")


def test_trade_is_rounded_to_the_lot(trading_fund):
    signal("INDJ24", "MACRO", "0.3")
    generate()
    # target = 0.3 × 1,000,000 / (0.0100344670 × 100,000) = 298.9695; lots of 5:
    # 298.9695 / 5 = 59.79 → 60 lots = 300
    assert proposal("INDJ24").quantity == D("300")


def test_no_proposal_below_the_minimum_trade(trading_fund):
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "RV", D("290"), D("100000"), TODAY)],
        actor="test",
        source="api",
    )
    signal("INDJ24", "RV", "0.3")
    result = generate()
    # target 298.9695 − 290 = 8.97 → 2 lots = 10, below 0.1 × 298.9695 = 29.9
    assert result.created == []
    assert result.skipped == [
        {
            "instrument": "INDJ24",
            "strategy": "RV",
            "reason": "trade of 10 is below the minimum 0.1 × |target| = 29.896954",
        }
    ]


def test_a_trade_that_rounds_to_nothing_is_not_proposed(trading_fund):
    book_services.trades_book(
        requests=[book_services.TradeRequest("ESH4", "MACRO", D("40"), D("5000"), TODAY)],
        actor="test",
        source="api",
    )
    signal("ESH4", "MACRO", "0.5")
    result = generate()
    # target 39.8626 − 40 = −0.14 → 0 lots
    assert result.created == [] and "rounds to zero" in result.skipped[0]["reason"]


def test_generating_twice_creates_nothing_new(trading_fund):
    signal("ESH4", "MACRO", "0.5")
    signal("DI1F27", "MACRO", "-0.8")
    first = generate()
    before = list(TradeProposal.objects.order_by("pk").values())
    second = generate()
    assert (len(first.created), len(second.created), second.expired) == (2, 0, 0)
    assert list(TradeProposal.objects.order_by("pk").values()) == before


def test_only_each_strategys_latest_signals_count(trading_fund):
    signal("INDJ24", "MACRO", "0.3", day=YESTERDAY)  # superseded by today's MACRO signals
    signal("ESH4", "MACRO", "0.5")
    signal("INDJ24", "RV", "0.3", day=YESTERDAY)  # RV's latest
    signal("ESH4", "RV", "0.5", day=TODAY + dt.timedelta(days=3))  # after the date: ignored
    generate()
    assert set(TradeProposal.objects.values_list("instrument__symbol", "strategy__code")) == {
        ("ESH4", "MACRO"),
        ("INDJ24", "RV"),
    }


def test_older_pending_proposals_expire(trading_fund):
    signal("ESH4", "MACRO", "0.5", day=YESTERDAY)
    signal("INDJ24", "MACRO", "0.3", day=YESTERDAY)
    # A past date is sized on the timeline of the close before it.
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    generate(YESTERDAY)
    approved = proposal("INDJ24", day=YESTERDAY)
    services.proposal_approve(proposal_id=approved.pk, actor="pm")
    result = generate(TODAY)
    assert result.expired == 1
    assert proposal("ESH4", day=YESTERDAY).status == "expired"
    assert proposal("INDJ24", day=YESTERDAY).status == "approved"
    # Today's proposals are sized again from the same (latest) signals, against today's
    # book: INDJ24 is already at 300, so only ESH4 is proposed again.
    assert [p.instrument.symbol for p in result.created] == ["ESH4"]
    trail = AuditRecord.objects.get(action="proposal.expire")
    assert trail.object_id == str(proposal("ESH4", day=YESTERDAY).pk)
    assert (trail.before, trail.after) == ({"status": "pending"}, {"status": "expired"})


def test_what_if_by_hand_and_the_book_after_approval_agrees(trading_fund):
    RiskLimit.objects.create(name="VaR", metric="var_95", limit=D("600000"))
    RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=D("5"))
    signal("ESH4", "MACRO", "0.5")
    generate()
    esh4 = proposal("ESH4")
    what_if = esh4.what_if
    # Before: DI1F27 −100 has exposure −DV01 = +2,500 per bp; Δy = ±10 bp → S = ±25,000.
    # VaR 95% = 25,000. Gross leverage 10,000,000 / 10,000,000 = 1.
    assert what_if["var_95_before"] == "25000.00"
    # After: + 40 × 5000 × 50 × 5.00 = 50,000,000 notional, moves with P × X returns in
    # phase with Δy: up days 25,000 + 500,000 = 525,000; down days
    # −25,000 − 50,000,000 / 101 = −520,049.50. VaR 95% = 520,049.50.
    assert what_if["var_95_after"] == "520049.50"
    before = {row["name"]: row for row in what_if["limits_before"]}
    after = {row["name"]: row for row in what_if["limits_after"]}
    assert (before["VaR"]["status"], after["VaR"]["status"]) == ("ok", "warning")  # 0.867
    assert after["VaR"]["utilization"] == "0.866749"  # 520,049.50 / 600,000
    # Gross 60,000,000 / NAV 10,000,000 = 6 > 5
    assert (before["Gross"]["value"], after["Gross"]["value"]) == ("1.000000", "6.000000")
    assert (before["Gross"]["status"], after["Gross"]["status"]) == ("ok", "breach")
    assert what_if["missing_history"] is False

    # Booked at the price it was sized at, the book is the what-if's "after".
    services.proposal_approve(proposal_id=esh4.pk, price=D("5000"), actor="pm")
    risk = risk_selectors.risk_compute(window=60)
    live = {v.limit.name: v for v in risk_selectors.limits_evaluate(risk)}
    assert risk_selectors.money(risk.figures.var[0.95]) == D("520049.50")
    assert (live["VaR"].status, live["Gross"].status) == ("warning", "breach")


def test_signals_without_history_or_movement_are_reported(trading_fund, usd):
    flat = Price.objects.filter(instrument__symbol="ESH4")
    flat.filter(date__lt=DAYS[10]).delete()  # 50 moves only
    signal("ESH4", "MACRO", "0.5")
    Price.objects.filter(instrument__symbol="INDJ24").update(price=D("100000"))  # σ = 0
    signal("INDJ24", "MACRO", "0.3")
    result = generate()
    assert result.created == []
    reasons = {row["instrument"]: row["reason"] for row in result.skipped}
    assert reasons == {
        "ESH4": f"fewer than 60 daily moves to {TODAY}",
        "INDJ24": "no movement in the last 60 days (σ = 0)",
    }


def test_generation_for_a_future_date_is_refused(trading_fund):
    with pytest.raises(ValidationError) as error:
        generate(TODAY + dt.timedelta(days=1))
    assert "future" in error.value.message_dict["date"][0]
    assert not AuditRecord.objects.filter(action="proposals.generate").exists()


def test_approval_books_the_trade_in_the_same_transaction(trading_fund):
    signal("ESH4", "MACRO", "0.5")
    generate()
    esh4 = proposal("ESH4")
    approval = services.proposal_approve(proposal_id=esh4.pk, actor="pm", note="go")
    # At the last price: 5000 on Mar 15, X = 5.00
    assert (approval.trade.quantity, approval.trade.price) == (D("40"), D("5000"))
    assert approval.trade.source == "proposal" and approval.trade.booked_by == "pm"
    assert approval.position == Position.objects.get(instrument__symbol="ESH4")
    assert approval.position.notional_base == D("50000000.00")  # 40 × 5000 × 50 × 5.00
    esh4.refresh_from_db()
    assert (esh4.status, esh4.executed_quantity, esh4.executed_price, esh4.trade_id) == (
        "approved",
        D("40"),
        D("5000"),
        approval.trade.pk,
    )
    decision = AuditRecord.objects.get(action="proposal.approve")
    assert decision.object_id == str(esh4.pk) and decision.note == "go"
    assert decision.before["status"] == "pending" and decision.after["status"] == "approved"
    assert decision.after["trade_id"] == approval.trade.pk


def test_a_short_history_shrinks_the_what_if_window(trading_fund, settings):
    settings.PMS_RISK_WINDOW = 100  # the quotes cover 63 days: 62 returns
    signal("ESH4", "MACRO", "0.5")
    generate()
    what_if = proposal("ESH4").what_if
    assert (what_if["window"], what_if["window_used"], what_if["short_history"]) == (100, 62, True)
    # The DI1F27 moves are ±10 bp every day, whatever the window: VaR 95% is unchanged.
    assert (what_if["var_95_before"], what_if["unavailable"]) == ("25000.00", None)


def test_without_the_history_for_a_var_proposals_are_still_made(trading_fund, settings):
    """The minimum window above the history: no VaR before or after, the reason given, the
    other limits still judged, and the proposal made."""
    settings.PMS_RISK_WINDOW = 100
    settings.PMS_RISK_MIN_WINDOW = 70
    RiskLimit.objects.create(name="VaR", metric="var_95", limit=D("600000"))
    RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=D("5"))
    signal("ESH4", "MACRO", "0.5")
    [created] = generate().created
    what_if = created.what_if
    assert (created.quantity, what_if["var_95_before"], what_if["var_95_after"]) == (
        D("40"),
        None,
        None,
    )
    assert what_if["unavailable"] == (
        "62 daily returns of history to 2024-03-15; VaR needs at least 70 (PMS_RISK_MIN_WINDOW)."
    )
    after = {row["name"]: row for row in what_if["limits_after"]}
    assert (after["VaR"]["status"], after["VaR"]["value"]) == ("unavailable", None)
    # Gross after: (10,000,000 + 50,000,000) / 10,000,000 = 6 > 5.
    assert (after["Gross"]["value"], after["Gross"]["status"]) == ("6.000000", "breach")


def test_a_past_date_generated_after_a_later_one_is_born_expired(trading_fund):
    """Today's proposals are out; yesterday's, generated afterwards (a repair), cannot be
    left pending beside them: they are created expired, as they would have been."""
    signal("ESH4", "MACRO", "0.5", day=YESTERDAY)
    generate()
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    [late] = generate(YESTERDAY).created
    assert (late.date, late.status) == (YESTERDAY, "expired")
    assert proposal("ESH4").status == "pending"


def decided_yesterday(decision: str) -> TradeProposal:
    """ESH4 / MACRO buy 40 from yesterday's signal (0.5), generated and decided yesterday:
    rejected, or modified to buy 20 at 5000."""
    signal("ESH4", "MACRO", "0.5", day=YESTERDAY)
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    [made] = generate(YESTERDAY).created
    assert made.quantity == D("40")
    if decision == "reject":
        services.proposal_reject(proposal_id=made.pk, reason="not now", actor="pm")
    else:
        services.proposal_modify_approve(
            proposal_id=made.pk, quantity=D("20"), price=D("5000"), actor="pm"
        )
    made.refresh_from_db()
    return made


@pytest.mark.parametrize("decision", ["reject", "modify"])
def test_a_decided_signal_never_proposes_again(trading_fund, decision):
    """Sized again today, yesterday's signal would be a buy of 40 (rejected) or 20 more
    (modified to 20): decided once, it proposes nothing; a new signal of today does."""
    made = decided_yesterday(decision)
    result = generate()
    assert result.created == []
    assert result.skipped == [
        {
            "instrument": "ESH4",
            "strategy": "MACRO",
            "reason": f"the signal of its date was {made.status} on proposal {made.pk} of "
            f"{YESTERDAY}; only a new signal proposes again",
        }
    ]
    assert generate().created == []  # and again: nothing new
    signal("ESH4", "MACRO", "0.5")  # a new signal: today's row
    [again] = generate().created
    held = D("20") if decision == "modify" else D("0")
    assert (again.date, again.quantity, again.status) == (TODAY, D("40") - held, "pending")
    assert TradeProposal.objects.count() == 2


def test_a_re_scored_signal_is_a_new_signal(trading_fund):
    made = decided_yesterday("reject")
    services.signals_upsert(
        rows=[{"instrument": "ESH4", "strategy": "MACRO", "date": YESTERDAY, "score": D("0.4")}],
        actor="quant",
    )
    [again] = generate().created
    # target = 0.4 × 1,000,000 / (0.0100344670 × 1,250,000) = 31.89 → 32
    assert (again.signal_id, again.score, again.quantity) == (made.signal_id, D("0.4"), D("32"))


def test_an_expired_proposals_signal_proposes_again_and_expiry_keeps_decisions(trading_fund):
    signal("ESH4", "MACRO", "0.5", day=YESTERDAY)
    signal("INDJ24", "MACRO", "0.3", day=YESTERDAY)
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    generate(YESTERDAY)
    rejected = proposal("INDJ24", day=YESTERDAY)
    services.proposal_reject(proposal_id=rejected.pk, reason="no", actor="pm")
    result = generate()
    assert result.expired == 1
    assert [p.instrument.symbol for p in result.created] == ["ESH4"]  # never decided
    assert (proposal("ESH4", day=YESTERDAY).status, proposal("INDJ24", day=YESTERDAY).status) == (
        "expired",
        "rejected",
    )
    assert generate().expired == 0


def test_modify_keeps_the_proposals_direction(trading_fund):
    signal("ESH4", "MACRO", "0.5")
    signal("DI1F27", "MACRO", "-0.8")
    generate()
    for symbol, quantity, message in (
        ("ESH4", D("-5"), "The proposal is a buy: give a positive quantity (a sell is"),
        ("DI1F27", D("5"), "The proposal is a sell: give a negative quantity (a buy is"),
        ("ESH4", D("0"), "A trade's quantity cannot be zero."),
    ):
        with pytest.raises(ValidationError) as error:
            services.proposal_modify_approve(
                proposal_id=proposal(symbol).pk, quantity=quantity, actor="pm"
            )
        [said] = error.value.message_dict["quantity"]
        assert list(error.value.message_dict) == ["quantity"] and said.startswith(message)
    assert set(TradeProposal.objects.values_list("status", flat=True)) == {"pending"}
    assert not Position.objects.filter(instrument__symbol="ESH4").exists()
    assert not AuditRecord.objects.filter(action__startswith="proposal.").exists()


def test_the_what_if_kept_after_a_modification_is_the_booked_sizes(trading_fund):
    RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=D("5"))
    signal("ESH4", "MACRO", "0.5")
    [esh4] = generate().created
    assert (esh4.what_if["var_95_after"], esh4.what_if["limits_after"][0]["value"]) == (
        "520049.50",
        "6.000000",
    )
    services.proposal_modify_approve(
        proposal_id=esh4.pk, quantity=D("20"), price=D("5000"), actor="pm"
    )
    esh4.refresh_from_db()
    what_if = esh4.what_if
    # 20 × 5000 × 50 × 5.00 = 25,000,000 of notional: up days 25,000 + 250,000; down days
    # −25,000 − 25,000,000 / 101 = −272,524.75. VaR 95% = 272,524.75 (40 gave 520,049.50).
    assert (what_if["var_95_before"], what_if["var_95_after"]) == ("25000.00", "272524.75")
    # Gross (10,000,000 + 25,000,000) / 10,000,000 = 3.5: no longer the breach of 6.
    [gross] = what_if["limits_after"]
    assert (gross["value"], gross["status"]) == ("3.500000", "ok")
    decision = AuditRecord.objects.get(action="proposal.modify_approve")
    assert decision.before["what_if"]["var_95_after"] == "520049.50"
    assert decision.after["what_if"] == what_if
    # The book now is the what-if's "after".
    risk = risk_selectors.risk_compute(window=60)
    assert risk_selectors.money(risk.figures.var[0.95]) == D("272524.75")


def count_vars_under_the_lock(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each VaR computed by a decision: True when its proposal's lock was held."""
    computed: list[bool] = []
    locked = [False]
    lock, compute = services._lock_pending, trading_selectors.risk_compute

    def locking(proposal_id: int) -> TradeProposal:
        locked[0] = True
        return lock(proposal_id)

    def computing(**kwargs):  # type: ignore[no-untyped-def]
        computed.append(locked[0])
        return compute(**kwargs)

    monkeypatch.setattr(services, "_lock_pending", locking)
    monkeypatch.setattr(trading_selectors, "risk_compute", computing)
    return computed


def test_a_modification_computes_its_var_before_taking_any_lock(trading_fund, monkeypatch):
    signal("ESH4", "MACRO", "0.5")
    [esh4] = generate().created
    computed = count_vars_under_the_lock(monkeypatch)
    services.proposal_modify_approve(
        proposal_id=esh4.pk, quantity=D("20"), price=D("5000"), actor="pm"
    )
    assert computed == [False]  # once, before the proposal's and the instrument's locks
    esh4.refresh_from_db()
    assert (esh4.what_if["var_95_before"], esh4.what_if["var_95_after"]) == (
        "25000.00",
        "272524.75",
    )


def book_meanwhile(monkeypatch: pytest.MonkeyPatch, request: TradeRequest) -> list[str]:
    """A trade booked between the what-if computed ahead and the decision's lock; the VaR
    95% of the book it leaves, once the decision has read its what-if ahead."""
    ahead, var_then = services._what_if_ahead, []

    def then_book(proposal_id: int) -> trading_selectors.BookedWhatIf | None:
        prepared = ahead(proposal_id)
        book_services.trades_book(requests=[request], actor="other", source="api")
        var = risk_selectors.risk_compute(window=60).figures.var[0.95]  # type: ignore[union-attr]
        var_then.append(str(risk_selectors.money(var)))
        return prepared

    monkeypatch.setattr(services, "_what_if_ahead", then_book)
    return var_then


def test_the_booked_what_if_is_against_the_book_just_before_the_trade(trading_fund, monkeypatch):
    signal("ESH4", "MACRO", "0.5")
    [esh4] = generate().created
    var_then = book_meanwhile(
        monkeypatch, TradeRequest("DI1F27", "MACRO", D("50"), D("10.50"), TODAY)
    )
    computed = count_vars_under_the_lock(monkeypatch)
    services.proposal_modify_approve(
        proposal_id=esh4.pk, quantity=D("20"), price=D("5000"), actor="pm"
    )
    # The same instruments on the same date: the market history read ahead serves again.
    assert computed == [False]
    esh4.refresh_from_db()
    # DI1F27 −50 now: S = ±12,500 before; down days −12,500 − 25,000,000 / 101 = −260,024.75.
    assert var_then == ["12500.00"]
    assert (esh4.what_if["var_95_before"], esh4.what_if["var_95_after"]) == (
        "12500.00",
        "260024.75",
    )


def test_a_new_instrument_booked_meanwhile_is_in_the_booked_what_if(trading_fund, monkeypatch):
    signal("ESH4", "MACRO", "0.5")
    [esh4] = generate().created
    var_then = book_meanwhile(monkeypatch, TradeRequest("INDJ24", "RV", D("5"), D("100000"), TODAY))
    computed = count_vars_under_the_lock(monkeypatch)
    services.proposal_modify_approve(
        proposal_id=esh4.pk, quantity=D("20"), price=D("5000"), actor="pm"
    )
    # Another instrument's history is needed: computed again under the proposal's lock.
    assert computed == [False, True]
    esh4.refresh_from_db()
    assert var_then != ["25000.00"]
    assert [esh4.what_if["var_95_before"]] == var_then


def test_sizing_a_di1_by_the_dv01_from_its_pu(trading_fund):
    di1 = Instrument.objects.get(symbol="DI1F27")
    di1.pricing, di1.maturity, di1.root = "di1", dt.date(2027, 1, 4), "DI1"
    di1.save()
    signal("DI1F27", "MACRO", "-0.8")
    generate()
    di = proposal("DI1F27")
    # σ is the same daily bp change; the unit value is one contract's DV01 from its PU at
    # the close y, n = 703 national business days to 2027-01-04:
    #   PU(y − 0.01, 703) − PU(y, 703), PU(y, n) = 100000 / (1 + y/100)^(n/252)
    y = D(di.rationale["price"])
    years = D(703) / 252
    unit = 100000 / (1 + (y - D("0.01")) / 100) ** years - 100000 / (1 + y / 100) ** years
    assert D(di.rationale["unit_value"]) == pytest.approx(unit, rel=D("1e-20"))
    assert D("10") < unit < D("25")  # well under the fixture's flat 25 per bp
    target = D("-0.8") * D("1000000") / (SIGMA_BP * unit)
    assert abs(D(di.rationale["target"]) - target) < D("0.000002")
    # trade = target − (−100), to the lot of 1
    assert di.quantity == (target + 100).to_integral_value()


def test_the_what_if_of_a_new_di1_position_revalues_it_at_its_close(trading_fund):
    """A DI1 the book does not hold yet: its close is read for the what-if, which adds the
    proposed contracts' full revaluation to the book's scenarios."""
    f26 = Di1Factory.create(symbol="DI1F26", maturity=dt.date(2026, 1, 2))
    Price.objects.bulk_create(
        Price(instrument=f26, date=p.date, price=p.price + D("0.30"))
        for p in Price.objects.filter(instrument__symbol="DI1F27")
    )
    signal("DI1F26", "RV", "0.5")
    generate()
    what_if = proposal("DI1F26", "RV").what_if
    assert what_if["missing_history"] is False and what_if["unavailable"] is None
    assert what_if["var_95_after"] != what_if["var_95_before"]
    # By hand over the 60-day window: the book's short 100 DI1F27 at 25 per bp gains
    # 2,500 per bp; the proposed q DI1F26 moves with the same bp (its rates are F27's
    # + 0.30) and is revalued at its close y, n = 454 days to 2026-01-02.
    days = business_days_ending(TODAY, 61)
    closes = dict(Price.objects.filter(instrument=f26, date__in=days).values_list("date", "price"))
    rates = np.array([float(closes[day]) for day in days])
    q, y, n = float(proposal("DI1F26", "RV").quantity), rates[-1], 454
    assert anbima_days(TODAY, f26.maturity) == n

    def pu(r):
        return 100000 / (1 + r / 100) ** (n / 252)

    bp = np.diff(rates) * 100
    after = 2500 * bp + q * (pu(y + bp / 100) - pu(y))
    var_95 = -np.quantile(after, 0.05)
    assert D(what_if["var_95_after"]) == D(repr(float(var_95))).quantize(D("0.01"))
