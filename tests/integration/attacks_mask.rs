//! Credential formats an audit found passing masking (issue 21, item 8), each tried through the
//! doors a real `maestro serve` has: a packed file (the `context` tool) and a run's task and
//! facts (kept in the state file). No value here is a real secret: each is random text of the
//! format's shape.

use std::path::PathBuf;

use serde_json::json;

use crate::attacks::{Lab, TO_DONE, contains_bytes, context_of, one_stage};
use crate::mcp::{call, ok};

/// (a line as it would appear in a repository or a message, the part that must not appear).
/// None of the lines is a `secret_name = value` assignment, which masking caught before.
const FORMATS: [(&str, &str); 17] = [
    (
        "| npm        | npm_k00s4n46l67paax1ejooc102cv85hxbjfhb3 |",
        "k00s4n46l67paax1ejooc102cv85hxbjfhb3",
    ),
    (
        "twine upload -u __token__ -p pypi-AgEIcHlwaS5vcmcuRZ-txe8EjzAjp8XzRs0LU5XO-XIdlu_a-iCOoxvSQSNFnviw2VueE0ubS-WFFui409hKg dist/*",
        "uRZ-txe8EjzAjp8XzRs0LU5XO-XIdlu_a-iCOoxvSQSNFnviw2VueE0ubS",
    ),
    (
        "sg.set_api(\"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\")",
        "HLe1FvYiRst9gGr9dBUtV2",
    ),
    (
        "curl -H \"X-Goog-User-Project: acme\" -d @req.json \"https://storage.googleapis.com/upload?access=ya29.a0X7iYwDGOfFXtNL_mhPNLyiPzTiO1njj5c48XZjCdg3fFJZ26EZXP_Dke9w_VB5HF9-XNWauOzNYslwkMW7nv3AQVyHkdPGtzEJWuY7Z36JwXImyBeSVcjfY4\"",
        "X7iYwDGOfFXtNL_mhPNLyiPzTiO1njj5c48XZjCdg3fFJZ26EZXP",
    ),
    (
        "doctl auth init -t dop_v1_e704396eb0b54d196dc77e022d641fffa484b99022536b8b151f8c5137b8d66d",
        "e704396eb0b54d196dc77e022d641fffa484b99022536b8b151f8c5137b8d66d",
    ),
    (
        "session = shopify.Session(shop, \"2024-01\", \"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\")",
        "2a761b50bff5e081639c6eb0b580c55d",
    ),
    (
        "databricks configure --host https://acme.cloud.databricks.com --pat dapi679eb27c5bb40d0636b9357def6685dc",
        "679eb27c5bb40d0636b9357def6685dc",
    ),
    (
        "notify: https://hooks.slack.com/services/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",
        "caXQ3LsK1DmFo3UJZWERdbx6",
    ),
    (
        "alerts -> https://discord.com/api/webhooks/2757569791415471395/jNFqsHnLBAr--BeQVbysKhH0hpcD4_V3cUsSZ46C4Dc6ClS_tvbIPQMBg6xztbutCovo",
        "jNFqsHnLBAr--BeQVbysKhH0hpcD4_V3cUsSZ46C4Dc6ClS_tvbIPQMBg6xztbutCovo",
    ),
    (
        "requests.get(\"https://api.telegram.org/bot6113380133:AAmFA3bZMOT1e-fZ9xekG8HuLRV_HXLgoKl/getMe\")",
        "AAmFA3bZMOT1e-fZ9xekG8HuLRV_HXLgoKl",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=+PrtNNXoI4DgV2n8BUzf/MQ3xc2zueBBvRbD5FTWyJxV9sQVsKkhFMPWvYdIIBDpdAWy/Bv3WLqXgralv6o8gj==;EndpointSuffix=core.windows.net",
        "PrtNNXoI4DgV2n8BUzf/MQ3xc2zueBBvRbD5FTWyJxV9sQVsKkhFMPWvYdIIBDpdAWy",
    ),
    (
        "requests.post(url, auth=(\"api\", \"key-a359e9dc38b0d8ea8b4bb652850a15b6\"), data=msg)",
        "a359e9dc38b0d8ea8b4bb652850a15b6",
    ),
    (
        "client = Client(\"SK0105a74a56359d8a6cc9179a79d62ee5\", api_secret, account_sid)",
        "0105a74a56359d8a6cc9179a79d62ee5",
    ),
    (
        "fetch(url, { headers: { Authorization: \"lin_api_lUNCd4y6Ff5TJF567k0J6hNZaUXbtHjUOaO4e389\" } })",
        "lUNCd4y6Ff5TJF567k0J6hNZaUXbtHjUOaO4e389",
    ),
    (
        "# created: 2024-05-01\nAGE-SECRET-KEY-1U96HEULSTNWNYF265SKE8HR9V0A47J073V5576WSDT2XTS7M30S98JYD2Q",
        "U96HEULSTNWNYF265SKE8HR9V0A47J073V5576WSDT2XTS7M30S98JYD2Q",
    ),
    ("the staging password is Xq7hunter2", "Xq7hunter2"),
    ("and the root password was 8f3!Zorro.", "8f3!Zorro"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_files_have_every_audited_format_masked() {
    let lab = Lab::new();
    let mut files = Vec::new();
    for (i, (line, _)) in FORMATS.iter().enumerate() {
        let f = format!("notes/f{i:02}.md");
        lab.write(&f, &format!("Handover notes\n\n{line}\n\nThat is all.\n"));
        files.push(f);
    }
    let client = lab.serve().await;
    let mut leaks = Vec::new();
    for (i, (line, secret)) in FORMATS.iter().enumerate() {
        let (v, text) = context_of(&client, &files[i]).await;
        if text.contains(secret) {
            leaks.push(format!("{line}\n  → {}", v["packed"]["text"]));
            continue;
        }
        // The text around the secret is kept for the model to read.
        assert!(
            text.contains("Handover notes")
                && text.contains("That is all.")
                && text.contains("[masked:"),
            "{v}"
        );
    }
    client.cancel().await.unwrap();
    assert!(leaks.is_empty(), "not masked:\n{}", leaks.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_task_and_facts_keep_no_audited_format_in_the_state_file() {
    let lab = Lab::new();
    lab.workflow("handover", &one_stage("handover", "", "", TO_DONE));
    let client = lab.serve().await;
    let lines: Vec<&str> = FORMATS.iter().map(|(line, _)| *line).collect();
    let r = ok(&call(
        &client,
        "start",
        json!({
            "task": format!("rotate these:\n{}", lines[..8].join("\n")),
            "workflow": "handover",
            "context": {"facts": lines[8..].to_vec()}
        }),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let status = ok(&call(&client, "status", json!({"run_id": run})).await);
    client.cancel().await.unwrap();

    let mut places: Vec<(String, Vec<u8>)> =
        vec![("status".into(), status.to_string().into_bytes())];
    for suffix in ["", "-wal", "-journal"] {
        let path = PathBuf::from(format!("{}{suffix}", lab.state().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            places.push((path.display().to_string(), bytes));
        }
    }
    assert!(
        places.len() > 1,
        "no state file at {}",
        lab.state().display()
    );
    let leaks: Vec<String> = places
        .iter()
        .flat_map(|(name, bytes)| {
            FORMATS
                .iter()
                .filter(|(_, secret)| contains_bytes(bytes, secret))
                .map(move |(line, _)| format!("{name}: {line}"))
        })
        .collect();
    assert!(leaks.is_empty(), "{leaks:#?}");
    // The run kept the task itself, masked: the check above looked at a real record.
    assert!(
        places
            .iter()
            .any(|(_, bytes)| contains_bytes(bytes, "[masked:npm-access-token]")),
        "the task is not in the state file"
    );
}
