//! Encryption at rest (`--encryption-key-file`) and the SSE fields, through the real
//! binary: nothing written under a key is found in clear anywhere in the data
//! directory (journals included), it all reads back after a SIGKILL and restart with
//! the key, the directory refuses to open without it, and CreateTable, UpdateTable and
//! DescribeTable speak `SSESpecification` / `SSEDescription`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, SseSpecification, SseStatus, SseType,
};

use crate::api::{deploy, guest, http};
use crate::control::create;
use crate::harness::{Server, read_whole_stream, table_name};

/// A value that must never be found in clear on disk.
const MARKER: &str = "marker-7c1e5f0a-plaintext-canary";
/// The longest a refused start may take to exit.
const REFUSAL_WAIT_MS_MAX: u64 = 20_000;

fn key_file(dir: &Path, hex_digit: char) -> String {
    let path = dir.join("eddy.key");
    std::fs::write(&path, format!("{}\n", hex_digit.to_string().repeat(64))).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Starts `eddy serve` on `dir` with `args`, expecting it to refuse to start; returns
/// what it wrote to stderr.
fn refused_start(dir: &Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eddy");
    let deadline = Instant::now() + Duration::from_millis(REFUSAL_WAIT_MS_MAX);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "eddy should refuse to start");
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("eddy started on a sealed directory it should refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn create_indexed(c: &aws_sdk_dynamodb::Client, name: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let hash = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("g"))
        .key_schema(hash("pk"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(hash("g"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Whether any file under `dir` holds `needle`.
fn found_in(dir: &Path, needle: &[u8]) -> bool {
    files(dir)
        .iter()
        .any(|f| contains(&std::fs::read(f).unwrap(), needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_the_search_finds_values_in_clear() {
    // The control of the test below: the same search does find a value stored without
    // a key, so its finding nothing there means something.
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_in(data.path(), &[]);
    let c = server.client();
    let table = table_name("clear");
    create(&c, &table, false).await;
    c.put_item()
        .table_name(&table)
        .item("pk", Av::S("k".into()))
        .item("secret", Av::S(MARKER.into()))
        .send()
        .await
        .unwrap();
    server.kill9();
    assert!(found_in(data.path(), MARKER.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_sealed_on_disk_and_read_back_only_with_the_key() {
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path(), 'a');
    let args = ["--encryption-key-file", key.as_str()];
    let server = Server::start_in(data.path(), &args);
    let c = server.client();
    let table = table_name("sealed");
    create_indexed(&c, &table).await;
    for i in 0..20 {
        c.put_item()
            .table_name(&table)
            .item("pk", Av::S(format!("k{i}")))
            .item("g", Av::S("group".into()))
            .item("secret", Av::S(format!("{MARKER}-{i}")))
            .send()
            .await
            .unwrap();
    }
    let wasm = guest("noop");
    deploy(&server.endpoint, "sealed-fn", "", &wasm).expect(201);
    // SIGKILL: what is on disk is what the journal and the flushed tables hold.
    server.kill9();

    let all = files(data.path());
    // The journal is among the files searched (fjall keeps it as numbered `.jnl`
    // files); the writes since the last flush are only there.
    assert!(
        all.iter()
            .any(|f| f.extension().is_some_and(|e| e == "jnl")),
        "no journal in {all:?}"
    );
    // A 64-byte run from the middle of the module stands for the function's bytes.
    let wasm_probe = &wasm[wasm.len() / 2..wasm.len() / 2 + 64];
    let mut function_files = 0;
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !contains(&bytes, MARKER.as_bytes()),
            "{} holds an item value in clear",
            f.display()
        );
        assert!(
            !contains(&bytes, wasm_probe),
            "{} holds the function's bytes in clear",
            f.display()
        );
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if f.to_string_lossy().contains("sealed-fn")
            && [".wasm", ".cwasm", ".json"]
                .iter()
                .any(|e| name.ends_with(e))
        {
            function_files += 1;
            assert_eq!(bytes.first(), Some(&0xE5), "{} is not sealed", f.display());
        }
    }
    assert_eq!(
        function_files, 3,
        "the module, its compiled code and manifest"
    );

    // Without the key, or with another one, the directory does not open.
    let err = refused_start(data.path(), &[]);
    assert!(
        err.contains("the data directory is encrypted and no encryption key was given"),
        "{err}"
    );
    let other = tempfile::tempdir().unwrap();
    let wrong = key_file(other.path(), 'b');
    let err = refused_start(data.path(), &["--encryption-key-file", &wrong]);
    assert!(
        err.contains("the encryption key does not open this data directory"),
        "{err}"
    );
    let bad = other.path().join("short.key");
    std::fs::write(&bad, "abcd").unwrap();
    let err = refused_start(
        data.path(),
        &["--encryption-key-file", bad.to_str().unwrap()],
    );
    assert!(err.contains("must hold 64 hexadecimal digits"), "{err}");

    // With the key, everything reads back: items, the index, the stream, the function.
    let server = Server::start_in(data.path(), &args);
    let c = server.client();
    let got = c
        .get_item()
        .table_name(&table)
        .key("pk", Av::S("k7".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap()["secret"], Av::S(format!("{MARKER}-7")));
    let by_g = c
        .query()
        .table_name(&table)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", Av::S("group".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_g.count(), 20);
    let records = read_whole_stream(&server, &c, &table).await;
    assert_eq!(records.len(), 20);
    for r in &records {
        let image = r.dynamodb().unwrap().new_image().unwrap();
        let aws_sdk_dynamodbstreams::types::AttributeValue::S(secret) = &image["secret"] else {
            panic!("{image:?}")
        };
        assert!(secret.starts_with(MARKER), "{secret}");
    }
    let function = http(&server.endpoint, "GET", "/v1/functions/sealed-fn", &[], b"");
    function.expect(200);
    let table_desc = c.describe_table().table_name(&table).send().await.unwrap();
    assert_eq!(table_desc.table().unwrap().item_count(), Some(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_specification_is_recorded_and_described() {
    let keys = tempfile::tempdir().unwrap();
    let key = key_file(keys.path(), 'c');
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_in(data.path(), &["--encryption-key-file", &key]);
    let c = server.client();
    let name = table_name("sse");
    let attr = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap();
    let hash = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .unwrap();
    let sse = |enabled: bool, kind: Option<SseType>, key: Option<&str>| {
        SseSpecification::builder()
            .enabled(enabled)
            .set_sse_type(kind)
            .set_kms_master_key_id(key.map(str::to_owned))
            .build()
    };
    let created = c
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr.clone())
        .key_schema(hash.clone())
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(sse(
            true,
            Some(SseType::Kms),
            Some("1234abcd-12ab-34cd-56ef-1234567890ab"),
        ))
        .send()
        .await
        .unwrap();
    let d = created
        .table_description()
        .unwrap()
        .sse_description()
        .unwrap();
    assert_eq!(d.status(), Some(&SseStatus::Enabled));
    assert_eq!(d.sse_type(), Some(&SseType::Kms));
    assert_eq!(
        d.kms_master_key_arn(),
        Some("arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    let described = |c: aws_sdk_dynamodb::Client, name: String| async move {
        c.describe_table()
            .table_name(name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap()
            .sse_description
    };
    assert_eq!(described(c.clone(), name.clone()).await.as_ref(), Some(d));

    // Back to the default key: no SSEDescription, as DynamoDB shows a default table.
    let out = c
        .update_table()
        .table_name(&name)
        .sse_specification(sse(false, None, None))
        .send()
        .await
        .unwrap();
    assert!(out.table_description().unwrap().sse_description().is_none());
    assert!(described(c.clone(), name.clone()).await.is_none());
    // Enabled without a key id: the server's own key, named like a KMS key.
    c.update_table()
        .table_name(&name)
        .sse_specification(sse(true, None, None))
        .send()
        .await
        .unwrap();
    let d = described(c.clone(), name.clone()).await.unwrap();
    assert_eq!(d.status(), Some(&SseStatus::Enabled));
    assert!(
        d.kms_master_key_arn()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:000000000000:key/"),
        "{d:?}"
    );
    // A table without SSESpecification reports none.
    let plain = table_name("plain");
    create(&c, &plain, false).await;
    assert!(described(c.clone(), plain.clone()).await.is_none());

    // DynamoDB's refusals.
    let refused = |spec: SseSpecification| {
        let c = c.clone();
        let (attr, hash) = (attr.clone(), hash.clone());
        async move {
            let e = c
                .create_table()
                .table_name(table_name("refused"))
                .attribute_definitions(attr)
                .key_schema(hash)
                .billing_mode(BillingMode::PayPerRequest)
                .sse_specification(spec)
                .send()
                .await
                .unwrap_err();
            let e = e.into_service_error();
            (
                e.meta().code().unwrap_or_default().to_owned(),
                e.meta().message().unwrap_or_default().to_owned(),
            )
        }
    };
    assert_eq!(
        refused(sse(true, Some(SseType::Aes256), None)).await,
        (
            "ValidationException".into(),
            "One or more parameter values were invalid: SSEType AES256 is not supported".into()
        )
    );
    assert_eq!(
        refused(sse(true, None, Some("k1"))).await,
        (
            "ValidationException".into(),
            "One or more parameter values were invalid: SSEType KMS is required if KMSMasterKeyId is specified".into()
        )
    );

    // The declaration survives a restart.
    server.kill9();
    let server = Server::start_in(data.path(), &["--encryption-key-file", &key]);
    let c = server.client();
    assert!(described(c.clone(), name.clone()).await.is_some());
    assert!(described(c.clone(), plain).await.is_none());

    // Without a key file the server encrypts nothing, so it refuses a KMS key.
    let plain_server = Server::start();
    let c = plain_server.client();
    let e = c
        .create_table()
        .table_name(table_name("nokey"))
        .attribute_definitions(attr.clone())
        .key_schema(hash.clone())
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(sse(true, Some(SseType::Kms), None))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("ValidationException"));
    assert_eq!(
        e.meta().message(),
        Some(
            "One or more parameter values were invalid: SSESpecification Enabled needs encryption at rest, which this server has only when started with --encryption-key-file"
        )
    );
    // Enabled false is the default key, which needs nothing.
    let ok = table_name("default");
    c.create_table()
        .table_name(&ok)
        .attribute_definitions(attr)
        .key_schema(hash)
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(sse(false, None, None))
        .send()
        .await
        .unwrap();
    assert!(described(c.clone(), ok).await.is_none());
}
