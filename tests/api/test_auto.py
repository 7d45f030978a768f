"""auto (issue 19): the leaderboard of a cross-validated search, the same model whatever the
number of workers (seed + max_models), the time limit, cancel, restart, and an ordinary job
that is not starved behind an auto job."""
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import NEUROND, ROOT, SANITIZED, data, train, wait_job

PLAN = 14  # candidates of the fixed plan (model/auto.c): 13 nets, then the defaults' training
# on the small tables of these tests (at most 1,000 rows, no text, patience > 0)


def test_leaderboard_order_content_card_and_events(daemon):
    job = train(daemon.base, "auto_iris", data("iris_train.csv"),
                {"auto": "true", "max_models": 6, "max_seconds": 0})
    j = wait_job(daemon.base, job["id"])
    assert j["status"] == "succeeded", j
    board = j["leaderboard"]
    assert [r["rank"] for r in board] == list(range(1, 7))
    assert sorted(r["candidate"] for r in board) == list(range(1, 7))
    means = [r["mean"] for r in board]
    assert means == sorted(means)  # log loss: lower first
    for r in board:
        assert r["metric"] == "log_loss"
        assert set(r) >= {"hidden", "l2", "learning_rate", "mean", "sd", "accuracy", "seconds"}
        assert r["sd"] >= 0 and 0 <= r["accuracy"] <= 1 and r["seconds"] > 0
    # the plan comes first: no hidden layer, then one layer of 16, 64, 256, then two layers
    by_cand = {r["candidate"]: r for r in board}
    assert [by_cand[c]["hidden"] for c in range(1, 6)] == [[], [16], [64], [256], [64, 64]]
    # the model is the winner refitted; the card records the search
    card = requests.get(daemon.url("/models/auto_iris")).json()
    assert card["params"]["hidden"] == board[0]["hidden"]
    auto = card["auto"]
    assert auto["leaderboard"] == board
    assert auto["winner"]["hidden"] == board[0]["hidden"]
    assert auto["limits"]["max_models"] == 6 and auto["limits"]["folds"] == 5
    assert "log_loss" in auto["why"] and len(auto["plan"]) == 6
    # the event stream: one `candidate` event per candidate, in the order tried
    with requests.get(daemon.url("/jobs/%s/events" % job["id"]), stream=True, timeout=30) as r:
        text = r.text
    cands = [json.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n")
             if block.startswith("event: candidate")]
    assert [c["candidate"] for c in cands] == list(range(1, 7))


def test_metric_accuracy_ranks_highest_first(daemon):
    job = train(daemon.base, "auto_acc", data("iris_train.csv"),
                {"auto": "true", "max_models": 4, "max_seconds": 0, "metric": "accuracy",
                 "folds": 3})
    j = wait_job(daemon.base, job["id"])
    assert j["status"] == "succeeded", j
    means = [r["mean"] for r in j["leaderboard"]]
    assert means == sorted(means, reverse=True)
    hold = train(daemon.base, "auto_hold", data("iris_train.csv"),
                 {"auto": "true", "max_models": 2, "max_seconds": 0, "folds": 1})
    assert wait_job(daemon.base, hold["id"])["status"] == "succeeded"
    card = requests.get(daemon.url("/models/auto_hold")).json()
    assert card["auto"]["validation"] == "holdout" and card["auto"]["limits"]["folds"] == 1
    assert all(r["sd"] == 0 for r in card["auto"]["leaderboard"])
    bad = train(daemon.base, "auto_bad", data("iris_train.csv"),
                {"auto": "true", "max_models": 2, "metric": "rmse"})
    assert wait_job(daemon.base, bad["id"])["status"] == "failed"


def cli_export(tmp_path, workers, name="breast_cancer_train.csv", models=PLAN + 4, more=()):
    out = os.path.join(str(tmp_path), "w%d.nrd" % workers)
    subprocess.run([NEUROND, "train", data(name), "-o", out, "-q", "--auto",
                    "--max-models", str(models), "--max-seconds", "0", "--workers", str(workers)] +
                   list(more), cwd=ROOT, check=True, capture_output=True)
    return subprocess.run([NEUROND, "export", out], cwd=ROOT, check=True,
                          capture_output=True).stdout


def test_same_model_with_one_and_two_workers(tmp_path, make_daemon):
    # the CLI's threads: the plan and a round of the random search
    one, two = cli_export(tmp_path, 1), cli_export(tmp_path, 2)
    assert json.loads(one)["layers"] and one == two
    # an ensemble (wine, seed 3: k > 1) is the same with 1 and 2 workers too
    one = cli_export(tmp_path, 1, "wine_train.csv", 10, ["--seed", "3"])
    two = cli_export(tmp_path, 2, "wine_train.csv", 10, ["--seed", "3"])
    assert json.loads(one)["ensemble"]["k"] > 1 and one == two
    # the daemon's pool: 1 and 2 workers give the same leaderboard and predictions
    rows = open(data("breast_cancer_test.csv")).read()
    results = []
    for w in (1, 2):
        d = make_daemon(["--workers", str(w)])
        job = train(d.base, "bc", data("breast_cancer_train.csv"),
                    {"auto": "true", "max_models": PLAN + 4, "max_seconds": 0})
        j = wait_job(d.base, job["id"])
        assert j["status"] == "succeeded", j
        pred = requests.post(d.url("/predict?model=bc"), data=rows,
                             headers={"Content-Type": "text/csv"})
        assert pred.status_code == 200, pred.text
        results.append(([{k: v for k, v in r.items() if k != "seconds"} for r in j["leaderboard"]],
                        pred.text))
        d.stop()
    assert results[0] == results[1]


def test_ensemble_of_the_top_candidates(daemon):
    """On wine an ensemble picked greedily on the folds beats the best alone: the model is that
    ensemble (k > 1 networks, the first the best candidate, each one of a candidate of the
    leaderboard; the scores by k recorded), served and exported/imported with the same bytes;
    ensemble=false keeps the best alone."""
    params = {"auto": "true", "max_models": 10, "max_seconds": 0, "seed": 3}
    job = train(daemon.base, "auto_ens", data("wine_train.csv"), params)
    assert wait_job(daemon.base, job["id"], timeout=300)["status"] == "succeeded"
    card = requests.get(daemon.url("/models/auto_ens")).json()
    ens = card["auto"]["ensemble"]
    k = ens["k"]
    assert k > 1, ens
    assert card["ensemble"]["k"] == k and len(card["ensemble"]["members"]) == k
    by_k = ens["by_k"]
    assert len(by_k) >= k and by_k[k - 1] == min(by_k) and by_k[k - 1] < by_k[0]
    assert abs(by_k[0] - card["auto"]["leaderboard"][0]["mean"]) < 1e-9
    board = card["auto"]["leaderboard"]
    by_cand = {r["candidate"]: r for r in board}
    members = card["ensemble"]["members"]
    # each network names its candidate (a candidate picked twice: two networks, two seeds)
    picked = [int(m["origin"].split(",")[0].split()[1]) for m in members]
    assert picked[0] == board[0]["candidate"]
    for m, c in zip(members, picked):
        assert m["hidden"] == by_cand[c]["hidden"] and m["l2"] == pytest.approx(by_cand[c]["l2"])
    assert "greedy ensemble selection" in card["ensemble"]["why"]
    assert "%d networks" % k in card["ensemble"]["why"]
    rows = open(data("wine_test.csv")).read()
    a = requests.post(daemon.url("/predict?model=auto_ens"), data=rows,
                      headers={"Content-Type": "text/csv"})
    assert a.status_code == 200
    doc = requests.get(daemon.url("/models/auto_ens/export")).json()
    assert doc["format_version"] == 5
    assert requests.post(daemon.url("/models/auto_ens_copy/import"), json=doc).status_code == 201
    b = requests.post(daemon.url("/predict?model=auto_ens_copy"), data=rows,
                      headers={"Content-Type": "text/csv"})
    assert a.content == b.content
    params["ensemble"] = "false"
    job = train(daemon.base, "auto_one", data("wine_train.csv"), params)
    assert wait_job(daemon.base, job["id"], timeout=300)["status"] == "succeeded"
    card = requests.get(daemon.url("/models/auto_one")).json()
    assert "ensemble" not in card and card["auto"]["ensemble"]["k"] == 1
    def strip(b):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in b]
    assert strip(card["auto"]["leaderboard"]) == strip(board)


def dflt_case(daemon, name, csv, params):
    """Trains an auto job; returns the card, the defaults' row and the fold score the defaults
    had to beat (the chosen ensemble's, or the best net's alone)."""
    job = train(daemon.base, name, data(csv), dict({"auto": "true", "max_seconds": 0}, **params))
    assert wait_job(daemon.base, job["id"], timeout=300)["status"] == "succeeded"
    card = requests.get(daemon.url("/models/" + name)).json()
    auto = card["auto"]
    rows = [r for r in auto["leaderboard"] if r.get("defaults")]
    assert len(rows) == 1, auto["leaderboard"]
    d = rows[0]
    # the 14th of the plan; its decay chosen in each training; the job's layers and rate
    assert d["candidate"] == PLAN and d["l2"] is None and d["hidden"] == [64]
    assert d["learning_rate"] == pytest.approx(0.001)
    assert auto["plan"][PLAN - 1]["defaults"] is True
    ens = auto["ensemble"]
    nets = [r for r in auto["leaderboard"] if not r.get("defaults")]
    other = ens["by_k"][ens["k"] - 1] if ens["by_k"] else nets[0]["mean"]
    return card, d, other


def test_defaults_candidate(daemon):
    """On a small table the plan ends with the defaults' training: one row that says so; never
    mixed into the greedy ensemble; the model when it scores better on the folds than the
    ensemble (breast cancer, seed 42), the ensemble when not (wine, seed 3); no such row when
    the defaults would choose no decay (patience 0) or above 1,000 rows."""
    card, d, other = dflt_case(daemon, "auto_dflt", "breast_cancer_train.csv",
                               {"max_models": PLAN})
    assert d["mean"] < other and card["auto"]["ensemble"]["model"] == "defaults"
    assert card["auto"]["winner"].get("defaults") is True
    members = card["ensemble"]["members"]
    assert len(members) == 16 and members[0]["origin"] == "refit on all rows"
    assert all(m["origin"].startswith("holdout ") for m in members[1:])
    assert "the defaults' training (candidate %d" % PLAN in card["auto"]["ensemble"]["why"]
    # served, and exported / imported with the same predictions
    rows = open(data("breast_cancer_test.csv")).read()
    a = requests.post(daemon.url("/predict?model=auto_dflt"), data=rows,
                      headers={"Content-Type": "text/csv"})
    assert a.status_code == 200, a.text
    doc = requests.get(daemon.url("/models/auto_dflt/export")).json()
    assert requests.post(daemon.url("/models/auto_dflt_copy/import"), json=doc).status_code == 201
    b = requests.post(daemon.url("/predict?model=auto_dflt_copy"), data=rows,
                      headers={"Content-Type": "text/csv"})
    assert a.content == b.content
    # wine: the greedy ensemble scores better; its networks never name the defaults' candidate
    card, d, other = dflt_case(daemon, "auto_dflt_w", "wine_train.csv",
                               {"max_models": PLAN + 3, "seed": 3})
    assert other <= d["mean"] and card["auto"]["ensemble"]["model"] == "ensemble"
    picked = [int(m["origin"].split(",")[0].split()[1]) for m in card["ensemble"]["members"]]
    assert PLAN not in picked and card["auto"]["winner"].get("defaults") is None
    # patience 0: the defaults choose no decay, so there is no such candidate; nor above 1,000
    # rows (digits: 1,437), where its cost grows and it did not win
    for name, csv, extra in (("auto_dflt_p0", "iris_train.csv", {"patience": 0, "epochs": 20}),
                             ("auto_dflt_big", "digits_train.csv", {"epochs": 5})):
        job = train(daemon.base, name, data(csv),
                    dict({"auto": "true", "max_models": PLAN, "max_seconds": 0}, **extra))
        j = wait_job(daemon.base, job["id"], timeout=120)
        assert j["status"] == "succeeded", j
        assert len(j["leaderboard"]) == PLAN
        assert not any(r.get("defaults") for r in j["leaderboard"]), name


def test_time_limit_is_kept(daemon):
    # units of about a second, and a final training (the top candidates trained again) of
    # several: the limit holds only if the search keeps the time the final needs
    job = train(daemon.base, "auto_time", data("digits_train.csv"),
                {"auto": "true", "max_seconds": 8, "patience": 0, "epochs": 150})
    t0 = time.time()
    j = wait_job(daemon.base, job["id"], timeout=120)
    assert j["status"] == "succeeded", j
    auto = requests.get(daemon.url("/models/auto_time")).json()["auto"]
    folds = auto["limits"]["folds"]
    # the search stops within one candidate-fold past the limit (the slowest one, with slack)
    unit = max(r["seconds"] / folds for r in auto["leaderboard"])
    assert 1 <= auto["candidates"] < PLAN + 50
    # (a sanitizer build runs everything around the units several times slower: more slack)
    slack = 3 * unit + 3.0 if SANITIZED else unit + 1.0
    assert auto["seconds"] <= 8 + slack, (auto["seconds"], unit)
    # the limit covers the final training too: the search stops early enough to leave the
    # final the time it estimates for it (a unit started just before may run past), and the
    # two together end within the limit
    # the default tolerance, as H2O AutoML's: 1/sqrt(rows) between 0.001 and 0.05
    assert auto["limits"]["stopping_tolerance"] == pytest.approx(1437 ** -0.5)
    est = auto["final_estimate"]
    assert 0 < est < 8, auto
    assert auto["seconds"] + est <= 8 + unit + (slack - unit) / 4, (auto["seconds"], est, unit)
    assert auto["seconds"] + auto["final_seconds"] <= 8 + slack, (auto["seconds"],
                                                                   auto["final_seconds"], unit)
    assert time.time() - t0 < 60


ROUND = 4  # candidates per round of the random search (model/auto.h)


def best_by_candidate(board, folds=5):
    """The best mean (log loss: lowest) of candidates 1..c, for c = 1..len(board), and the
    standard error of that best's mean (its sd / sqrt(folds); the earlier one on a tie)."""
    row = {r["candidate"]: r for r in board}
    best, se, out, ses = float("inf"), 0.0, [], []
    for c in range(1, len(board) + 1):
        m = row[c]["mean"] if row[c]["mean"] is not None else float("inf")
        if m < best:
            best, se = m, row[c]["sd"] / folds ** 0.5
        out.append(best)
        ses.append(se)
    return out, ses


def assert_stopped_by_the_rule(auto, rounds, tol, se_floor=False):
    """The rule, replayed on the leaderboard in candidate order: the best of 1..c not better by
    more than tol (relative; with se_floor, at least the standard error of the best of 1..c)
    than the best of 1..c-rounds, those candidates past the plan; it held at a candidate of the
    last round, never at one of a round before."""
    assert auto["stopped"] == "no_improvement", auto["stopped_why"]
    n = auto["candidates"]
    best, se = best_by_candidate(auto["leaderboard"], auto["limits"]["folds"])

    def floor(c):
        t = tol * abs(best[c - 1 - rounds])
        return max(t, se[c - 1]) if se_floor else t
    assert n == len(auto["leaderboard"]) and n >= PLAN + rounds and (n - PLAN) % ROUND == 0
    held = [c for c in range(PLAN + rounds, n + 1)
            if not best[c - 1 - rounds] - best[c - 1] > floor(c)]
    assert held and held[0] > n - ROUND, (rounds, tol, held, best)
    assert "after candidate %d " % held[0] in auto["stopped_why"], auto["stopped_why"]


def test_search_stops_when_it_no_longer_improves(daemon):
    # iris, the defaults (max_seconds 60, max_models 0): the search stops on its own within
    # seconds, once the best log loss has not improved over 8 candidates by more than the
    # tolerance H2O AutoML takes for 120 rows (min(0.05, 1/sqrt(rows)) = 5%), or than the
    # best's standard error over the folds
    t0 = time.time()
    job = train(daemon.base, "auto_stop", data("iris_train.csv"), {"auto": "true"})
    j = wait_job(daemon.base, job["id"], timeout=60)
    assert j["status"] == "succeeded", j
    assert time.time() - t0 < 30
    auto = requests.get(daemon.url("/models/auto_stop")).json()["auto"]
    assert auto["stopped"] == "no_improvement", auto["stopped_why"]
    assert "no improvement" in auto["stopped_why"] and auto["seconds"] < 30
    assert auto["limits"]["stopping_rounds"] == 8
    assert auto["limits"]["stopping_tolerance"] == 0.05
    assert "standard error" in auto["stopped_why"]
    assert_stopped_by_the_rule(auto, 8, 0.05, se_floor=True)
    n = auto["candidates"]
    # other settings: the same rule on the board, in candidate order
    for rounds, tol in ((3, 0.0), (5, 0.05)):
        job = train(daemon.base, "auto_stop%d" % rounds, data("iris_train.csv"),
                    {"auto": "true", "stopping_rounds": rounds, "stopping_tolerance": tol})
        assert wait_job(daemon.base, job["id"], timeout=60)["status"] == "succeeded"
        other = requests.get(daemon.url("/models/auto_stop%d" % rounds)).json()["auto"]
        assert_stopped_by_the_rule(other, rounds, tol)
    # stopping_rounds=0: no early stop, the search runs to max_models
    job = train(daemon.base, "auto_nostop", data("iris_train.csv"),
                {"auto": "true", "max_models": n + 2 * ROUND, "max_seconds": 0,
                 "stopping_rounds": 0})
    j = wait_job(daemon.base, job["id"], timeout=120)
    assert j["status"] == "succeeded", j
    auto = requests.get(daemon.url("/models/auto_nostop")).json()["auto"]
    assert auto["stopped"] == "max_models" and auto["candidates"] == n + 2 * ROUND
    assert auto["limits"]["stopping_rounds"] == 0


def wait_candidates(base, job_id, n=1, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = requests.get(base + "/jobs/" + job_id).json()
        if len(j.get("leaderboard") or []) >= n:
            return j
        assert j["status"] in ("queued", "running"), j
        time.sleep(0.05)
    raise AssertionError("no candidate scored")


SLOW = {"auto": "true", "max_seconds": 120, "patience": 0, "epochs": 30}


def test_cancel_stops_within_a_candidate_fold(make_daemon):
    # one worker: the next job can only start once the cancelled auto job has returned
    d = make_daemon(["--workers", "1"])
    job = train(d.base, "auto_cancel", data("digits_train.csv"), dict(SLOW, epochs=60))
    wait_job(d.base, job["id"], statuses=("running",))
    time.sleep(1.0)  # inside the plan's round: 50 candidate-folds, several seconds of work
    t0 = time.time()
    r = requests.post(d.url("/jobs/%s/cancel" % job["id"]))
    assert r.status_code == 200, r.text
    after = train(d.base, "after_cancel", data("iris_train.csv"), {"epochs": 5})
    assert wait_job(d.base, after["id"])["status"] == "succeeded"
    waited = time.time() - t0
    # a candidate-fold of digits (60 epochs, at most 256 wide) takes well under a second
    assert waited < 2.5, waited
    j = wait_job(d.base, job["id"])
    assert j["status"] == "cancelled" and j["leaderboard"] == []


def test_restart_runs_the_auto_job_again(make_daemon, tmp_path):
    db = os.path.join(str(tmp_path), "restart.db")
    d = make_daemon(["--workers", "2"], db=db)
    job = train(d.base, "auto_restart", data("iris_train.csv"),
                {"auto": "true", "max_models": 40, "max_seconds": 0, "patience": 0,
                 "epochs": 200, "stopping_rounds": 0})
    wait_candidates(d.base, job["id"])
    assert d.stop() == 0
    d2 = make_daemon(["--workers", "2"], db=db)
    j = wait_job(d2.base, job["id"], timeout=180)
    assert j["status"] == "succeeded", j
    assert len(j["leaderboard"]) == 40


def test_ordinary_job_not_starved(make_daemon):
    d = make_daemon(["--workers", "2"])
    big = train(d.base, "auto_big", data("digits_train.csv"), SLOW)
    wait_job(d.base, big["id"], statuses=("running",))
    time.sleep(0.5)  # inside the plan's round: 50 candidate-folds, seconds of work
    t0 = time.time()
    small = train(d.base, "small", data("iris_train.csv"), {"epochs": 5})
    assert wait_job(d.base, small["id"], timeout=60)["status"] == "succeeded"
    waited = time.time() - t0
    j = wait_candidates(d.base, big["id"])
    assert j["status"] == "running", j  # the auto job still searches: the small one went first
    unit = max(r["seconds"] for r in j["leaderboard"]) / 5
    print("waited %.2fs, slowest candidate-fold %.2fs" % (waited, unit))
    assert waited < unit + 1.0, (waited, unit)
    requests.post(d.url("/jobs/%s/cancel" % big["id"]))
    wait_job(d.base, big["id"])
