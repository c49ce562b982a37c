//! The recommendation commands of the CLI: `cohort recommend …` and
//! `cohort eval recommend`: flags in, engine calls, tables or JSON out.

use std::path::Path;

use anyhow::{Context, Result};
use cohort::recommend::{self, Boost, Evaluation, ModelKind, Settings};
use cohort::store::Workspace;

use crate::{table, truncate, Bar};

/// Settings a training or an evaluation can be given; unset flags keep the defaults.
#[derive(clap::Args, Debug, Default)]
pub struct ModelArgs {
    /// Model to store: popularity, item_knn, als, content, hybrid (default: the best by validation NDCG).
    #[arg(long)]
    pub model: Option<String>,
    /// ALS latent factors.
    #[arg(long)]
    pub factors: Option<usize>,
    /// ALS regularisation.
    #[arg(long)]
    pub regularization: Option<f32>,
    /// ALS confidence weight: confidence = 1 + alpha × strength.
    #[arg(long)]
    pub alpha: Option<f32>,
    /// ALS iterations.
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Neighbours kept per product (item-item).
    #[arg(long)]
    pub neighbours: Option<usize>,
    /// Shrinkage of item-item similarities seen by few people.
    #[arg(long)]
    pub shrink: Option<f32>,
    /// Item-item similarity from interaction strengths rather than from who interacted.
    #[arg(long)]
    pub weighted_similarity: bool,
    /// Skip the grid search: use the parameters as given.
    #[arg(long)]
    pub no_grid: bool,
    /// Recommendations kept per profile.
    #[arg(long)]
    pub n: Option<usize>,
    /// The k of precision@k, recall@k, NDCG@k and MAP@k.
    #[arg(long)]
    pub k: Option<usize>,
    /// Days in the test period (and in the validation period before it).
    #[arg(long)]
    pub test_days: Option<u32>,
    /// Weight of a product view.
    #[arg(long)]
    pub view_weight: Option<f32>,
    /// Weight of an add-to-cart.
    #[arg(long)]
    pub cart_weight: Option<f32>,
    /// Weight of a purchase (per unit bought).
    #[arg(long)]
    pub purchase_weight: Option<f32>,
    /// Days after which an interaction counts half (0: never fades).
    #[arg(long)]
    pub half_life_days: Option<f32>,
    /// Never recommend this category (repeatable).
    #[arg(long = "exclude-category", value_name = "CATEGORY")]
    pub exclude_category: Vec<String>,
    /// A category bought again and again: recommend it even when bought (repeatable).
    #[arg(long = "replenishable", value_name = "CATEGORY")]
    pub replenishable: Vec<String>,
    /// Multiply the score of a SKU or category: `--boost "Coffee=1.5"`, below 1 buries (repeatable).
    #[arg(long = "boost", value_name = "TARGET=FACTOR")]
    pub boost: Vec<String>,
    /// At most this many products of one category per list.
    #[arg(long)]
    pub max_per_category: Option<usize>,
    /// Also recommend what the profile already bought.
    #[arg(long)]
    pub include_purchased: bool,
    /// Also recommend products marked out of stock.
    #[arg(long)]
    pub include_out_of_stock: bool,
}

impl ModelArgs {
    pub fn settings(&self) -> Result<Settings> {
        let mut s = Settings::default();
        if let Some(m) = &self.model {
            if m != "auto" {
                s.model = Some(ModelKind::parse(m).with_context(|| {
                    format!("unknown --model `{m}`: use auto, popularity, item_knn, als, content or hybrid")
                })?);
            }
        }
        let set = |target: &mut f32, v: Option<f32>| {
            if let Some(v) = v {
                *target = v;
            }
        };
        if let Some(f) = self.factors {
            s.als.factors = f;
        }
        set(&mut s.als.regularization, self.regularization);
        set(&mut s.als.alpha, self.alpha);
        if let Some(i) = self.iterations {
            s.als.iterations = i;
        }
        if let Some(n) = self.neighbours {
            s.knn.neighbours = n;
        }
        set(&mut s.knn.shrink, self.shrink);
        s.knn.binary = !self.weighted_similarity;
        s.grid_search = !self.no_grid;
        if let Some(n) = self.n {
            s.n = n;
        }
        if let Some(k) = self.k {
            s.k = k;
        }
        if let Some(d) = self.test_days {
            s.test_days = d;
        }
        set(&mut s.weights.view, self.view_weight);
        set(&mut s.weights.add_to_cart, self.cart_weight);
        set(&mut s.weights.purchase, self.purchase_weight);
        set(&mut s.weights.half_life_days, self.half_life_days);
        s.rules.excluded_categories = self.exclude_category.clone();
        s.rules.replenishable_categories = self.replenishable.clone();
        for b in &self.boost {
            let (target, factor) = b
                .rsplit_once('=')
                .with_context(|| format!("--boost `{b}` should look like TARGET=FACTOR"))?;
            let factor: f32 = factor
                .trim()
                .parse()
                .ok()
                .filter(|f: &f32| f.is_finite() && *f >= 0.0)
                .with_context(|| format!("--boost `{b}`: the factor must be a number ≥ 0"))?;
            s.rules.boosts.push(Boost {
                target: target.trim().to_owned(),
                factor,
            });
        }
        if let Some(m) = self.max_per_category {
            s.rules.max_per_category = m;
        }
        s.rules.exclude_purchased = !self.include_purchased;
        s.rules.exclude_out_of_stock = !self.include_out_of_stock;
        Ok(s)
    }
}

pub fn train(ws_path: &Path, args: &ModelArgs, json: bool) -> Result<()> {
    let settings = args.settings()?;
    let mut ws = Workspace::open_existing(ws_path)?;
    let mut bar = Bar::new(json);
    let run = recommend::train(&mut ws, &settings, &crate::now_iso(), &mut bar)?;
    bar.finish();
    if json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    if let Some(e) = &run.evaluation {
        print_evaluation(e);
    } else {
        println!("Not evaluated: no purchases after some history to test on (the lists are stored all the same).");
    }
    println!(
        "Stored {} recommendations per profile for {} profiles from {} interactions with {} products: {} ({}), in {:.2} s.",
        run.settings.n, run.profiles, run.interactions, run.products, run.label, run.parameters, run.seconds
    );
    Ok(())
}

pub fn eval(ws_path: &Path, args: &ModelArgs, chart: Option<&Path>, json: bool) -> Result<()> {
    let settings = args.settings()?;
    let ws = Workspace::open_existing(ws_path)?;
    let mut bar = Bar::new(json);
    let e = recommend::evaluate_workspace(&ws, &settings, &mut bar)?;
    bar.finish();
    if let Some(out) = chart {
        let output = match out.extension().and_then(|e| e.to_str()) {
            Some("svg") => cohort::charts::Output::Svg,
            Some("png") => cohort::charts::Output::Png,
            _ => anyhow::bail!("{}: charts are written as .svg or .png", out.display()),
        };
        let c = recommend::charts(&e).remove(0);
        std::fs::write(out, cohort::charts::render(&c.spec, &c.options, output)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    print_evaluation(&e);
    if let Some(out) = chart {
        println!("Wrote {}", out.display());
    }
    Ok(())
}

fn print_evaluation(e: &Evaluation) {
    let k = e.k;
    let pop = e.scores(ModelKind::Popularity).map_or(0.0, |m| m.test.ndcg);
    let mut t = table([
        "model".into(),
        format!("precision@{k}"),
        format!("recall@{k}"),
        format!("NDCG@{k}"),
        format!("MAP@{k}"),
        "coverage".into(),
        "vs popularity".into(),
        "validation NDCG".into(),
        "parameters".into(),
    ]);
    for m in &e.models {
        t.add_row(vec![
            format!(
                "{}{}",
                m.model.name(),
                if m.model == e.best { " *" } else { "" }
            ),
            format!("{:.4}", m.test.precision),
            format!("{:.4}", m.test.recall),
            format!("{:.4}", m.test.ndcg),
            format!("{:.4}", m.test.map),
            format!("{:.1}%", m.test.coverage * 100.0),
            if pop > 0.0 {
                format!("{:.2}×", m.test.ndcg / pop)
            } else {
                "–".into()
            },
            format!("{:.4}", m.validation_ndcg),
            truncate(&m.parameters, 60),
        ]);
    }
    println!(
        "Trained before {}, tested on {} profiles' new purchases from then on (tuned on the period from {}).",
        e.test_from,
        e.models.first().map_or(0, |m| m.test.profiles),
        e.validation_from
    );
    println!("{t}");
    if !e.grid.is_empty() {
        println!(
            "Grid search: {} parameter sets tried; * = best by validation NDCG@{k}.",
            e.grid.len()
        );
    }
}

pub fn show(ws_path: &Path, profile: i64, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let list = recommend::for_profile(ws.conn(), profile)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = table(["#", "sku", "product", "category", "why"].map(String::from));
    for r in &list {
        t.add_row(vec![
            r.rank.to_string(),
            r.sku.clone(),
            truncate(r.title.as_deref().unwrap_or(""), 40),
            r.category.clone().unwrap_or_default(),
            truncate(&r.reason, 70),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn similar(ws_path: &Path, sku: &str, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let list = recommend::similar_to(ws.conn(), sku)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = table(["#", "sku", "product", "category", "score", "why"].map(String::from));
    for r in &list {
        t.add_row(vec![
            r.rank.to_string(),
            r.sku.clone(),
            truncate(r.title.as_deref().unwrap_or(""), 40),
            r.category.clone().unwrap_or_default(),
            format!("{:.3}", r.score),
            r.reason.clone(),
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn status(ws_path: &Path, json: bool) -> Result<()> {
    let ws = Workspace::open_existing(ws_path)?;
    let run = recommend::latest_run(ws.conn())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    match run {
        None => println!("No model trained yet: `cohort recommend train`."),
        Some(run) => {
            println!(
                "Run #{} at {}: {} ({}), {} profiles, {} products, {} interactions, {:.2} s.",
                run.id,
                run.created_at,
                run.label,
                run.parameters,
                run.profiles,
                run.products,
                run.interactions,
                run.seconds
            );
            if let Some(e) = &run.evaluation {
                print_evaluation(e);
            }
        }
    }
    Ok(())
}
