//! How a task becomes a model's input fields. Field names differ per model and the providers'
//! docs do not pin them down (docs/providers.md, Input maps), so each provider reads a
//! mapping from its `*_INPUTS` variable:
//!
//! ```text
//! human_img=$person,garm_img=$garment,garment_des=$prompt,category=upper_body,crop=false
//! ```
//!
//! Entries are separated by commas. `$person`, `$garment`, `$prompt` and `$aspect_ratio` are the
//! task's values (an absent one leaves its field out); `$instruction` is a sentence for
//! image-edit models (the shopper's description, or "dress the person in the garment" when there
//! is none). Anything else is a literal: `true`, `false` and numbers are sent as JSON, the rest
//! as a string. `name[]=…` appends to an array, so `image_urls[]=$person,image_urls[]=$garment`
//! makes `"image_urls": [person, garment]`.

use serde_json::{Map, Value};

use crate::providers::TaskInput;

#[derive(Clone, Debug, PartialEq)]
enum Source {
    Person,
    Garment,
    Prompt,
    AspectRatio,
    Instruction,
    Literal(Value),
}

#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: String,
    append: bool,
    source: Source,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InputMap {
    fields: Vec<Field>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputMapError {
    #[error("entry {0:?} is not name=value")]
    NotAPair(String),
    #[error("entry {0:?} has an empty field name")]
    EmptyName(String),
    #[error("unknown source {0:?} (use $person, $garment, $prompt, $aspect_ratio or $instruction)")]
    UnknownSource(String),
    #[error("the mapping names no field")]
    Empty,
}

impl InputMap {
    pub fn parse(text: &str) -> Result<Self, InputMapError> {
        let mut fields = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) =
                entry.split_once('=').ok_or_else(|| InputMapError::NotAPair(entry.to_owned()))?;
            let (name, append) = match name.trim().strip_suffix("[]") {
                Some(base) => (base.trim(), true),
                None => (name.trim(), false),
            };
            if name.is_empty() {
                return Err(InputMapError::EmptyName(entry.to_owned()));
            }
            fields.push(Field {
                name: name.to_owned(),
                append,
                source: Source::parse(value.trim())?,
            });
        }
        if fields.is_empty() {
            return Err(InputMapError::Empty);
        }
        Ok(InputMap { fields })
    }

    /// The input object for one task.
    pub fn build(&self, task: &TaskInput) -> Map<String, Value> {
        let mut input = Map::new();
        for field in &self.fields {
            let Some(value) = field.source.value(task) else { continue };
            if field.append {
                let slot =
                    input.entry(field.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = slot {
                    items.push(value);
                }
            } else {
                input.insert(field.name.clone(), value);
            }
        }
        input
    }
}

impl Source {
    fn parse(value: &str) -> Result<Self, InputMapError> {
        Ok(match value {
            "$person" => Source::Person,
            "$garment" => Source::Garment,
            "$prompt" => Source::Prompt,
            "$aspect_ratio" => Source::AspectRatio,
            "$instruction" => Source::Instruction,
            other if other.starts_with('$') => {
                return Err(InputMapError::UnknownSource(other.to_owned()));
            }
            "true" => Source::Literal(Value::Bool(true)),
            "false" => Source::Literal(Value::Bool(false)),
            other => match other.parse::<serde_json::Number>() {
                Ok(n) => Source::Literal(Value::Number(n)),
                Err(_) => Source::Literal(Value::String(other.to_owned())),
            },
        })
    }

    fn value(&self, task: &TaskInput) -> Option<Value> {
        let text = match self {
            Source::Person => Some(task.person_image_url.clone()),
            Source::Garment => task.garment_image_url.clone(),
            Source::Prompt => task.prompt.clone(),
            Source::AspectRatio => task.aspect_ratio.clone(),
            Source::Instruction => Some(instruction(task)),
            Source::Literal(value) => return Some(value.clone()),
        };
        text.map(Value::String)
    }
}

/// What an image-edit model is told to do with `[person, garment]`.
fn instruction(task: &TaskInput) -> String {
    match (&task.garment_image_url, &task.prompt) {
        (Some(_), Some(prompt)) => format!(
            "Show the person from the first image wearing the garment from the second image ({prompt}). \
             Keep their face, body, pose and the background unchanged."
        ),
        (Some(_), None) => {
            "Show the person from the first image wearing the garment from the second image. \
             Keep their face, body, pose and the background unchanged."
                .to_owned()
        }
        (None, Some(prompt)) => format!(
            "Show the person in this image wearing: {prompt}. Keep their face, body, pose and the background unchanged."
        ),
        (None, None) => "Show the person in this image as they are.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;
    use serde_json::json;

    fn task(garment: bool, prompt: Option<&str>) -> TaskInput {
        TaskInput {
            job: JobId::from_string(String::from("job_1")),
            person_image_url: "https://f/person".into(),
            garment_image_url: garment.then(|| "https://f/garment".into()),
            prompt: prompt.map(str::to_owned),
            aspect_ratio: Some("3:4".into()),
            callback_url: "https://f/webhooks/x".into(),
        }
    }

    #[test]
    fn sources_literals_and_absent_values() {
        let map = InputMap::parse("human_img=$person, garm_img=$garment,garment_des=$prompt,category=upper_body,crop=false,steps=30")
            .expect("valid");
        let input = map.build(&task(true, None));
        assert_eq!(
            Value::Object(input),
            json!({"human_img": "https://f/person", "garm_img": "https://f/garment", "category": "upper_body", "crop": false, "steps": 30})
        );
    }

    #[test]
    fn array_entries_collect_in_order_and_skip_absent_values() {
        let map = InputMap::parse("image_urls[]=$person,image_urls[]=$garment,size=$aspect_ratio")
            .expect("valid");
        assert_eq!(
            map.build(&task(true, None))["image_urls"],
            json!(["https://f/person", "https://f/garment"])
        );
        assert_eq!(
            map.build(&task(false, Some("a red coat")))["image_urls"],
            json!(["https://f/person"])
        );
    }

    #[test]
    fn the_instruction_uses_the_shoppers_description() {
        let map = InputMap::parse("prompt=$instruction").expect("valid");
        let text = map.build(&task(false, Some("a red coat")))["prompt"]
            .as_str()
            .map(str::to_owned)
            .expect("text");
        assert!(text.contains("a red coat"), "{text}");
    }

    #[test]
    fn bad_mappings_are_refused_with_the_reason() {
        assert_eq!(InputMap::parse("human_img"), Err(InputMapError::NotAPair("human_img".into())));
        assert_eq!(InputMap::parse("=$person"), Err(InputMapError::EmptyName("=$person".into())));
        assert_eq!(InputMap::parse("a=$persn"), Err(InputMapError::UnknownSource("$persn".into())));
        assert_eq!(InputMap::parse(" , "), Err(InputMapError::Empty));
    }
}
