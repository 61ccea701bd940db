//! Readiness: an instance takes traffic only while its database answers and holds every
//! migration the binary knows, so it never serves an old schema.

use migration::{Migrator, MigratorTrait as _};

use crate::helpers::spawn_app;

#[tokio::test]
async fn readiness_refuses_while_a_migration_is_pending_and_returns_after_migrate() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let ready = || client.get(app.url("/readyz")).send();
    assert_eq!(ready().await.unwrap().status(), 200);

    let db = app.db().await;
    Migrator::down(&db, Some(1))
        .await
        .expect("the newest migration rolls back");
    let refused = ready().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.text().await.unwrap().contains("migrations pending"));
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "alive all the same"
    );

    // What `latchkey migrate` does, run while the instance is up.
    latchkey::db::migrate(&db)
        .await
        .expect("migrate applies the pending migration");
    assert_eq!(ready().await.unwrap().status(), 200);
}
