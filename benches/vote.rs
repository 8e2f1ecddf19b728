#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! `vote` with k = 3 against a fake provider that answers correctly with p = 0.9 after 200 ms:
//! mean samples against MAKER's expectation (eq. 16), and wall time against rounds × latency.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use maestro::testing::quality::RuleSet;
use maestro::testing::quality::expected_samples;
use maestro::testing::quality::{Format, VoteConfig, vote};
use rand::{RngExt, SeedableRng};

fn main() {
    let (p, k, steps, latency) = (0.9, 3, 60, Duration::from_millis(200));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rng = Mutex::new(rand::rngs::StdRng::seed_from_u64(11));
    let cfg = VoteConfig {
        k,
        max_samples: 100,
        batch: 3,
        format: Format::Text,
        rules: RuleSet::maker(),
    };
    let (mut samples, mut rounds_total, mut wall) = (0u32, 0u32, Duration::ZERO);
    for _ in 0..steps {
        let t = Instant::now();
        let r = rt.block_on(vote(
            |_| {
                let right = rng.lock().expect("rng").random_bool(p);
                async move {
                    tokio::time::sleep(latency).await;
                    Ok::<_, maestro::testing::quality::SampleError>(
                        if right { "right" } else { "wrong" }.to_string(),
                    )
                }
            },
            &cfg,
        ));
        let took = t.elapsed();
        wall += took;
        samples += r.samples;
        rounds_total += (took.as_secs_f64() / latency.as_secs_f64()).round() as u32;
    }
    let mean = f64::from(samples) / f64::from(steps);
    let expected = expected_samples(p, k);
    println!(
        "vote k={k}, p={p}, {}-ms fake: mean samples {mean:.3} vs MAKER's {expected:.3} ({:+.1}%; goal within 10%)",
        latency.as_millis(),
        (mean / expected - 1.0) * 100.0
    );
    println!(
        "wall {:.0} ms per step on average = {:.2} rounds × {} ms (sequential sampling would take {:.0} ms)",
        wall.as_secs_f64() * 1000.0 / f64::from(steps),
        f64::from(rounds_total) / f64::from(steps),
        latency.as_millis(),
        mean * latency.as_secs_f64() * 1000.0
    );
}
