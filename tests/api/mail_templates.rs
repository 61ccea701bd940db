//! `LATCHKEY_TEMPLATES_DIR`: an operator's templates change the mail the server really sends,
//! escape what accounts chose in HTML as the built-in ones do, and a bad one stops start-up
//! with its file and line instead of failing a send later.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{
    PASSWORD, SUBJECT_RESET, SUBJECT_VERIFY, assert_no_errors, exit_within, latchkey_binary,
    spawn_app_with_args,
};

fn templates_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    dir
}

#[tokio::test]
async fn a_custom_subject_and_html_body_change_the_mail_a_signup_sends() {
    let dir = templates_dir(&[
        (
            "email_verification/subject.txt",
            "Welcome to Example, confirm {{ email }}\n",
        ),
        (
            "email_verification/body.html",
            "<h1>Example</h1>\n<p><a href=\"{{ link }}\">Confirm</a> within {{ valid_hours }} hours.</p>\n",
        ),
    ]);
    let app = spawn_app_with_args(&["--templates-dir", dir.path().to_str().unwrap()]).await;
    let email = "custom-template@example.com";

    assert_no_errors(&app.signup_raw(email, PASSWORD, None).await);

    let subject = format!("Welcome to Example, confirm {email}");
    let mail = app.wait_for_nth_mail(email, &subject, 0).await;
    assert!(mail.html.contains("<h1>Example</h1>"), "{}", mail.html);
    // HTML escaping writes `/` as `&#x2f;`, which a mail reader reads back as `/`.
    let html = mail.html.replace("&#x2f;", "/");
    assert!(
        html.contains("<a href=\"http://app.test/verify-email?token="),
        "{html}"
    );
    assert!(mail.html.contains("within 24 hours"), "{}", mail.html);
    // The text body was not replaced: the built-in one is sent.
    assert!(
        mail.text.contains("To confirm that this address is yours"),
        "{}",
        mail.text
    );
    assert!(app.smtp.mail_to(email, SUBJECT_VERIFY).is_empty());
}

#[tokio::test]
async fn a_custom_html_template_escapes_a_name_holding_a_script_tag() {
    let dir = templates_dir(&[(
        "password_reset/body.html",
        "<p>Dear {{ name }},</p>\n<p><a href=\"{{ link }}\">Reset</a></p>\n",
    )]);
    let app = spawn_app_with_args(&["--templates-dir", dir.path().to_str().unwrap()]).await;
    let email = "script-name@example.com";
    let name = "<script>alert(1)</script>";
    assert_no_errors(&app.signup_raw(email, PASSWORD, Some(name)).await);
    // Only a verified address gets the name the account chose.
    let token = app.verification_token_in(email, SUBJECT_VERIFY, 0).await;
    assert_no_errors(&app.verify_email(&token).await);

    assert_no_errors(&app.forgot_password(email).await);
    let mail = app.wait_for_nth_mail(email, SUBJECT_RESET, 0).await;

    assert!(
        mail.html
            .contains("<p>Dear &lt;script&gt;alert(1)&lt;&#x2f;script&gt;,</p>"),
        "{}",
        mail.html
    );
    assert!(!mail.html.contains("<script>"), "{}", mail.html);
    // The text body is plain text: the name as the account wrote it.
    assert!(mail.text.contains(name), "{}", mail.text);
}

/// Starts the binary with `LATCHKEY_TEMPLATES_DIR=dir` and returns its exit status and stderr;
/// panics (after killing it) if it is still running after 30 s, as a server that accepted the
/// templates would be.
fn start_with_templates(dir: &Path) -> (Option<i32>, String) {
    let work = tempfile::tempdir().unwrap();
    exit_within(
        latchkey_binary()
            .current_dir(work.path())
            .env("LATCHKEY_TEMPLATES_DIR", dir),
        Duration::from_secs(30),
    )
}

#[test]
fn a_broken_template_stops_start_up_with_status_2_naming_its_file_and_line() {
    let dir = templates_dir(&[(
        "invitation/body.html",
        "<p>Hello,</p>\n<p>{{ email }}</p>\n<p>{% if valid_days > 1 %}days</p>\n",
    )]);

    let (status, stderr) = start_with_templates(dir.path());

    assert_eq!(status, Some(2), "{stderr}");
    let file = dir.path().join("invitation/body.html");
    assert!(
        stderr.contains(&format!("{}:3:", file.display())),
        "names the file and line 3: {stderr}"
    );
}

#[test]
fn templates_that_could_print_unescaped_or_name_unknown_things_stop_start_up() {
    let cases = [
        // A misspelt kind would leave the built-in template in use without a word.
        (
            "password_rest/body.html",
            "<p>{{ link }}</p>",
            "password_rest",
        ),
        ("password_reset/body.htm", "<p>{{ link }}</p>", "body.htm"),
        (
            "password_reset/body.html",
            "<p>\n{{ name|safe }}</p>",
            "body.html:2:",
        ),
        (
            "password_reset/body.html",
            "{% autoescape false %}{{ name }}{% endautoescape %}",
            "body.html:1:",
        ),
        (
            "password_reset/body.txt",
            "Hello\n\n{% if name %}{{ nmae }}{% endif %}",
            "body.txt:3:",
        ),
    ];
    for (file, source, named) in cases {
        let dir = templates_dir(&[(file, source)]);

        let (status, stderr) = start_with_templates(dir.path());

        assert_eq!(status, Some(2), "{file}: {stderr}");
        assert!(stderr.contains("LATCHKEY_TEMPLATES_DIR"), "{stderr}");
        assert!(stderr.contains(named), "{file} names {named}: {stderr}");
    }
}
