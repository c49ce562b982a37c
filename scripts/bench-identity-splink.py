#!/usr/bin/env python3
"""Reference benchmark: Splink (DuckDB backend) on the identity benchmark's data.

usage: bench-identity-splink.py CONTACTS.csv TRUTH.csv

Deduplicates CONTACTS.csv (the layout scripts/gen-identity-data.py writes:
customer_id,email,first_name,last_name,phone,birth_date,address1,city,
postcode,country) with a Splink model built the way Splink's tutorials
build one, then scores the clusters against TRUTH.csv
(file,source_key,person_id; rows for other files or for keys not in
CONTACTS.csv are ignored), so that scripts/bench-identity-synthetic
(SPLINK=1) can quote Cohort's figures as ratios against Splink measured in
the same run on the same records.

Stages, each timed: load (CSV into in-process DuckDB, all columns as
strings, light normalisation in SQL), training (probability two random
records match from deterministic rules, u by random sampling, m by EM on
three blocking rules), predict (blocking plus scoring), clustering
(connected components at MATCH_THRESHOLD) and evaluation (pairwise
precision/recall/F1, pairs counted in SQL). Peak RSS is the process's
(DuckDB runs in it). The last line starts with `splink:` and sums it up.

Needs `pip install splink duckdb` (written against Splink 5.0, DuckDB 2.0).

  python3 scripts/gen-identity-data.py 20000 0.2 11 /tmp/s/all.csv /tmp/s/truth.csv
  python3 scripts/bench-identity-splink.py /tmp/s/all.csv /tmp/s/truth.csv
"""
import logging
import os
import resource
import sys
import time

T_START = time.perf_counter()

import duckdb  # noqa: E402
import splink  # noqa: E402
import splink.comparison_level_library as cll  # noqa: E402
import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

MATCH_THRESHOLD = 0.95    # clustering: pairs at or above this match probability link
PREDICT_THRESHOLD = 0.5   # predict keeps only pairs at or above this (as in Splink's docs)
SEED = 42                 # u sampling, the one training step that takes a seed
U_MAX_PAIRS = 5e6
RANDOM_MATCH_RECALL = 0.6  # guessed recall of the deterministic rules, as tutorials do


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    csv_path, truth_path = sys.argv[1], sys.argv[2]
    print(f"Splink {splink.__version__}, duckdb {duckdb.__version__}", flush=True)
    stages = {}

    # -- load ---------------------------------------------------------------
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"""
        create table contacts as
        with raw as (
            select * from read_csv({sql_str(csv_path)}, header = true, all_varchar = true)
        ), n as (
            select
                customer_id,
                nullif(lower(trim(email)), '') as email,
                nullif(lower(replace(trim(first_name), ' ', '')), '') as first_name,
                nullif(lower(replace(trim(last_name), ' ', '')), '') as last_name,
                nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') as phone,
                nullif(trim(birth_date), '') as birth_date,
                nullif(lower(trim(address1)), '') as address1,
                nullif(lower(replace(trim(city), ' ', '')), '') as city,
                nullif(lower(replace(trim(postcode), ' ', '')), '') as postcode
            from raw
        )
        select *, nullif(concat_ws(' ', first_name, last_name), '') as first_name_surname
        from n
    """)
    records = con.sql("select count(*) from contacts").fetchall()[0][0]
    db_api = DuckDBAPI(connection=con)
    df = db_api.register("contacts")
    stages["load"] = time.perf_counter() - t
    print(f"records {records}", flush=True)

    # -- model and training -------------------------------------------------
    t = time.perf_counter()
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone"),
            # +44 7036… vs 07036…, +1 312… vs (312)…: same number, other prefix
            cll.CustomLevel("right(phone_l, 9) = right(phone_r, 9)",
                            label_for_charts="Exact match on last 9 digits"),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="customer_id",
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "last_name",
                                         forename_surname_concat_col_name="first_name_surname"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.EmailComparison("email"),
            phone,
            cl.ExactMatch("postcode"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("address1"),
        ],
        # Splink compares every pair of a block (it has no sorted
        # neighbourhood), so each rule is narrow enough that its blocks
        # stay small at a million records; otherwise the pairs (and the
        # run) grow with the square of the records.
        blocking_rules_to_generate_predictions=[
            block_on("substr(last_name, 1, 1)", "postcode"),
            block_on("birth_date", "substr(first_name, 1, 1)"),
            block_on("email"),
            block_on("right(phone, 9)"),
            block_on("first_name", "last_name", "city"),
            block_on("last_name", "substr(birth_date, 1, 4)", "substr(first_name, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, log_level=logging.WARNING)
    steps = [time.perf_counter()]
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date"), block_on("email")],
        recall=RANDOM_MATCH_RECALL,
    )
    steps.append(time.perf_counter())
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    steps.append(time.perf_counter())
    for rule in (
        block_on("first_name", "last_name", "city"),
        block_on("birth_date", "substr(first_name, 1, 1)"),
        block_on("postcode"),
    ):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    steps.append(time.perf_counter())
    stages["training"] = time.perf_counter() - t
    training_detail = ", ".join(f"{name} {b - a:.2f}" for name, a, b in
                                zip(("random-match", "u", "EM"), steps, steps[1:]))

    # -- predict ------------------------------------------------------------
    # Blocking first, as predict() would do it, to count the pairs it scores;
    # predict() then takes the cached blocked pairs.
    t = time.perf_counter()
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    scored = con.sql(f"select count(*) from {blocked.physical_name}").fetchall()[0][0]
    df_predict = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    kept = con.sql(f"select count(*) from {df_predict.physical_name}").fetchall()[0][0]
    blocked.drop_table_from_database_and_remove_from_cache()
    stages["predict"] = time.perf_counter() - t

    # -- clustering ---------------------------------------------------------
    t = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        df_predict, threshold_match_probability=MATCH_THRESHOLD)
    n_clusters = con.sql(
        f"select count(distinct cluster_id) from {clusters.physical_name}").fetchall()[0][0]
    stages["clustering"] = time.perf_counter() - t

    # -- evaluation ---------------------------------------------------------
    t = time.perf_counter()
    base = sql_str(os.path.basename(csv_path))
    tp, predicted, actual, evaluated = con.sql(f"""
        with tr as (
            select * from read_csv({sql_str(truth_path)}, header = true, all_varchar = true)
        ), truth as (
            -- rows for this file if the truth names it, else any row with its keys
            select source_key, person_id from tr
            where file = {base} or not exists (select 1 from tr where file = {base})
        ), j as (
            select c.cluster_id, t.person_id
            from {clusters.physical_name} c join truth t on c.customer_id = t.source_key
        )
        select
            (select coalesce(sum(n * (n - 1) // 2), 0)
               from (select count(*) as n from j group by cluster_id, person_id)),
            (select coalesce(sum(n * (n - 1) // 2), 0)
               from (select count(*) as n from j group by cluster_id)),
            (select coalesce(sum(n * (n - 1) // 2), 0)
               from (select count(*) as n from j group by person_id)),
            (select count(*) from j)
    """).fetchall()[0]
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    stages["evaluation"] = time.perf_counter() - t

    total = time.perf_counter() - T_START
    resolve = stages["training"] + stages["predict"] + stages["clustering"]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
          + f"; imports and start-up {total - sum(stages.values()):.2f}")
    print(f"training seconds: {training_detail}")
    print(f"pairs: {scored} scored (blocked), {kept} at match probability >= {PREDICT_THRESHOLD};"
          f" {n_clusters} clusters at >= {MATCH_THRESHOLD}")
    print(f"pairwise: {tp} true positive of {predicted} predicted and {actual} true pairs"
          f" ({evaluated} of {records} records in the truth)")
    print(f"splink: total {total:.1f} s, resolve {resolve:.1f} s, peak RSS {rss_mb:.0f} MB, "
          f"pairs {scored}, precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}", flush=True)


if __name__ == "__main__":
    main()
