//! Template rendering for input, glob and output strings (minijinja, strict undefined).

use std::collections::BTreeMap;

use std::sync::Arc;

use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, context};

use super::VarValue;
use crate::storage::{Method, ObjectUrl, Storage};

/// Per-image values available to output templates.
#[derive(Debug, Clone)]
pub struct ImageValues {
    pub name: String,
    pub path: String,
    pub dir: String,
    pub stem: String,
    pub ext: String,
}

/// Why a template failed, with the byte range inside the template text.
#[derive(Debug)]
pub struct TemplateError {
    pub range: std::ops::Range<usize>,
    pub message: String,
}

pub struct Templates {
    env: Environment<'static>,
    vars: Value,
}

impl Templates {
    pub fn new(vars: &BTreeMap<String, VarValue>, signer: Arc<Storage>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A manifest may come from a pull request: bound the work a template can do.
        env.set_fuel(Some(100_000));
        env.set_recursion_limit(32);
        env.add_function("env", lookup_env);
        env.add_function(
            "presign",
            move |url: String, method: Option<String>, kwargs: Kwargs| {
                presign(&signer, &url, method, &kwargs)
            },
        );
        Self {
            env,
            vars: Value::from(Serde(vars)),
        }
    }

    /// Renders `template`; without `image`, only `vars` and `env()` are defined.
    pub fn render(
        &self,
        template: &str,
        image: Option<&ImageValues>,
    ) -> Result<String, TemplateError> {
        let ctx = match image {
            Some(i) => context! {
                vars => self.vars.clone(),
                name => i.name.clone(),
                path => i.path.clone(),
                dir => i.dir.clone(),
                stem => i.stem.clone(),
                ext => i.ext.clone(),
            },
            None => context! { vars => self.vars.clone() },
        };
        self.env
            .render_str(template, ctx)
            .map_err(|e| TemplateError {
                range: e.range().unwrap_or(0..template.len()),
                message: describe(&e, image.is_some()),
            })
    }
}

fn lookup_env(name: String) -> Result<String, Error> {
    std::env::var(&name).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("environment variable `{name}` is not set"),
        )
    })
}

/// `presign(url, method="GET", expires=SECONDS)`: a pre-signed HTTPS URL for a cloud object.
fn presign(
    signer: &Storage,
    url: &str,
    method: Option<String>,
    kwargs: &Kwargs,
) -> Result<String, Error> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidOperation, message);
    let method = match method.or(kwargs.get::<Option<String>>("method")?) {
        None => Method::Get,
        Some(name) => Method::parse(&name)
            .ok_or_else(|| invalid(format!("presign: method `{name}` is not GET, PUT or HEAD")))?,
    };
    let expires = kwargs
        .get::<Option<u64>>("expires")?
        .map(std::time::Duration::from_secs);
    kwargs.assert_all_used()?;
    let object = ObjectUrl::parse(url)
        .ok_or_else(|| {
            invalid(format!(
                "presign: `{url}` is not an object URL (s3://BUCKET/KEY, az://ACCOUNT/CONTAINER/BLOB, gs://BUCKET/KEY)"
            ))
        })?
        .map_err(|e| invalid(e.to_string()))?;
    let signed = signer
        .presign(&object, method, expires)
        .map_err(|e| invalid(format!("presign: {e}")))?;
    Ok(signed.expose().to_owned())
}

fn describe(e: &Error, with_image: bool) -> String {
    let mut message = match e.detail() {
        Some(detail) => format!("template error: {}: {detail}", e.kind()),
        None => format!("template error: {}", e.kind()),
    };
    if e.kind() == ErrorKind::UndefinedError {
        message.push_str(if with_image {
            " (defined: name, path, dir, stem, ext, vars.NAME, env(\"NAME\"), presign(URL))"
        } else {
            " (input and glob templates know only vars.NAME, env(\"NAME\") and presign(URL))"
        });
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Arc<Storage> {
        Arc::new(Storage::new(&crate::storage::StorageSettings::default()))
    }

    #[test]
    fn presign_rejects_what_it_cannot_sign() {
        let t = Templates::new(&BTreeMap::new(), signer());
        for (template, needle) in [
            ("{{ presign('https://x/y') }}", "not an object URL"),
            ("{{ presign('s3://bucket') }}", "s3://BUCKET/KEY"),
            (
                "{{ presign('s3://b/k', 'DELETE') }}",
                "not GET, PUT or HEAD",
            ),
            ("{{ presign('s3://b/k', colour='red') }}", "colour"),
        ] {
            let err = t.render(template, None).unwrap_err();
            assert!(err.message.contains(needle), "{template}: {}", err.message);
        }
    }

    fn image() -> ImageValues {
        ImageValues {
            name: "cat".into(),
            path: "photos/cat.jpg".into(),
            dir: "photos".into(),
            stem: "cat".into(),
            ext: "jpg".into(),
        }
    }

    #[test]
    fn renders_vars_and_image_values() {
        let mut vars = BTreeMap::new();
        vars.insert("out".to_owned(), VarValue::String("masks".into()));
        let t = Templates::new(&vars, signer());
        let out = t
            .render(
                "{{ vars.out }}/{{ dir }}/{{ stem }}.{{ ext }}.png",
                Some(&image()),
            )
            .unwrap();
        assert_eq!(out, "masks/photos/cat.jpg.png");
    }

    #[test]
    fn undefined_names_are_errors_with_their_range() {
        let t = Templates::new(&BTreeMap::new(), signer());
        let err = t
            .render("masks/{{ stme }}.png", Some(&image()))
            .unwrap_err();
        assert_eq!(err.range, 9..13);
        assert!(err.message.contains("undefined"), "{}", err.message);
    }

    #[test]
    fn image_values_are_undefined_in_input_templates() {
        let t = Templates::new(&BTreeMap::new(), signer());
        let err = t.render("{{ stem }}.png", None).unwrap_err();
        assert_eq!(err.range, 3..7);
        assert!(
            err.message.contains("undefined") && err.message.contains("know only vars.NAME"),
            "{}",
            err.message
        );
    }

    #[test]
    fn env_reads_only_the_named_variable() {
        let t = Templates::new(&BTreeMap::new(), signer());
        let err = t
            .render("{{ env('MASKFLOW_SURELY_UNSET_VARIABLE') }}", None)
            .unwrap_err();
        assert!(err.message.contains("MASKFLOW_SURELY_UNSET_VARIABLE"));
        let path = t.render("{{ env('PATH') }}", None).unwrap();
        assert_eq!(path, std::env::var("PATH").unwrap());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let t = Templates::new(&BTreeMap::new(), signer());
        // Each range stays under minijinja's own range cap, so only the fuel can stop this;
        // the same loop a hundred times smaller renders.
        let runaway =
            "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}";
        let err = t.render(runaway, None).unwrap_err();
        assert!(err.message.contains("out of fuel"), "{}", err.message);
        let bounded = "{% for i in range(10) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}";
        assert_eq!(t.render(bounded, None).unwrap().len(), 10_000);
    }
}
