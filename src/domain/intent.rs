//! Conversational intents: the built-in ones with their bilingual seed phrases, the
//! out-of-scope phrases thresholds are calibrated on, and admin-added phrases.

use serde::{Deserialize, Serialize};

use super::knowledge::normalize_question;
use super::{FaqEntryId, Timestamp, UserId, ValidationError};

/// Intents every kefu knows, whatever its knowledge base says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinIntent {
    Greeting,
    Thanks,
    Goodbye,
    HumanRequest,
    Complaint,
    Affirm,
    Deny,
}

impl BuiltinIntent {
    pub const ALL: [BuiltinIntent; 7] = [
        BuiltinIntent::Greeting,
        BuiltinIntent::Thanks,
        BuiltinIntent::Goodbye,
        BuiltinIntent::HumanRequest,
        BuiltinIntent::Complaint,
        BuiltinIntent::Affirm,
        BuiltinIntent::Deny,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinIntent::Greeting => "greeting",
            BuiltinIntent::Thanks => "thanks",
            BuiltinIntent::Goodbye => "goodbye",
            BuiltinIntent::HumanRequest => "human_request",
            BuiltinIntent::Complaint => "complaint",
            BuiltinIntent::Affirm => "affirm",
            BuiltinIntent::Deny => "deny",
        }
    }

    pub fn parse(raw: &str) -> Result<BuiltinIntent, ValidationError> {
        BuiltinIntent::ALL
            .into_iter()
            .find(|intent| intent.as_str() == raw.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = BuiltinIntent::ALL.iter().map(|i| i.as_str()).collect();
                ValidationError::new(
                    "intent",
                    format!("unknown intent {raw:?}; use one of {}", known.join(", ")),
                )
            })
    }

    /// What the admin page says the intent is for.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinIntent::Greeting => "Hello / 你好 — the bot greets back.",
            BuiltinIntent::Thanks => "Thank you / 谢谢 — the bot acknowledges.",
            BuiltinIntent::Goodbye => "Bye / 再见 — the bot closes politely.",
            BuiltinIntent::HumanRequest => {
                "Asks for a person / 转人工 — the conversation goes to an agent."
            }
            BuiltinIntent::Complaint => {
                "Complains / 投诉 — counts towards handing off to an agent."
            }
            BuiltinIntent::Affirm => "Yes / 是的 — answers the bot's question.",
            BuiltinIntent::Deny => "No / 不是 — answers the bot's question.",
        }
    }

    /// The phrases every kefu is trained on for this intent, Chinese and English.
    pub fn seed_phrases(self) -> &'static [&'static str] {
        match self {
            BuiltinIntent::Greeting => &[
                "hi",
                "hello",
                "hey there",
                "good morning",
                "good afternoon",
                "hi, anyone there?",
                "hello, I have a question",
                "你好",
                "您好",
                "嗨",
                "在吗",
                "早上好",
                "晚上好",
                "哈喽",
                "有人在吗",
                "你好，我想问一下",
            ],
            BuiltinIntent::Thanks => &[
                "thanks",
                "thank you",
                "thanks a lot",
                "thank you so much, that helped",
                "great, thanks",
                "appreciate it",
                "cheers",
                "谢谢",
                "谢谢你",
                "多谢",
                "非常感谢",
                "感谢帮助",
                "好的谢谢",
                "辛苦了",
            ],
            BuiltinIntent::Goodbye => &[
                "bye",
                "goodbye",
                "see you",
                "that's all, bye",
                "have a nice day",
                "talk to you later",
                "再见",
                "拜拜",
                "没有其他问题了，再见",
                "回头见",
                "先这样吧，拜拜",
            ],
            BuiltinIntent::HumanRequest => &[
                "talk to a human",
                "I want to talk to a person",
                "agent please",
                "can I speak to a real person",
                "connect me to customer service",
                "I need a human agent",
                "let me talk to someone",
                "live agent",
                "is there a real person I can chat with",
                "get me a representative",
                "转人工",
                "人工客服",
                "我要人工",
                "找人工",
                "转接人工服务",
                "请帮我转人工客服",
                "我想和真人说话",
                "有没有真人客服",
                "叫你们客服出来",
                "人工",
            ],
            BuiltinIntent::Complaint => &[
                "I want to file a complaint",
                "this is unacceptable",
                "your service is terrible",
                "I'm very unhappy with my order",
                "this is the worst experience ever",
                "I've been waiting for weeks and nobody helps",
                "your product broke after one day, this is ridiculous",
                "我要投诉",
                "你们的服务太差了",
                "太失望了",
                "等了这么久还没人处理",
                "质量太差，刚用一天就坏了",
                "我非常不满意",
                "你们这是骗人",
            ],
            BuiltinIntent::Affirm => &[
                "yes",
                "yes please",
                "yeah",
                "sure",
                "correct",
                "that's right",
                "ok",
                "exactly",
                "是的",
                "对",
                "好的",
                "可以",
                "没错",
                "嗯嗯",
                "行",
            ],
            BuiltinIntent::Deny => &[
                "no",
                "no thanks",
                "nope",
                "not really",
                "that's not it",
                "wrong",
                "not that",
                "不是",
                "不对",
                "不用了",
                "不需要",
                "没有",
                "不是这个",
                "算了",
            ],
        }
    }
}

/// Messages a shop's bot should not claim to understand. Never trained on: the
/// thresholds are set so that these fall below them while held-out in-scope phrases do not.
pub const OUT_OF_SCOPE_PHRASES: &[&str] = &[
    "what's the weather on Mars",
    "write me a poem about the sea",
    "who won the football world cup in 1998",
    "what is the square root of 7921",
    "recommend a good sci-fi movie",
    "how do I bake sourdough bread",
    "tell me a joke about cats",
    "what's the capital of Australia",
    "how far is the moon from the earth",
    "translate 'good night' into French",
    "who is the president of Brazil",
    "how do I fix a flat bicycle tire",
    "what time is it in Tokyo",
    "explain quantum entanglement simply",
    "is it going to rain tomorrow in Berlin",
    "火星上的天气怎么样",
    "给我写一首关于月亮的诗",
    "今天股市涨了吗",
    "一加一等于几",
    "推荐一部好看的电视剧",
    "怎么做红烧肉",
    "讲个笑话吧",
    "北京明天下雨吗",
    "世界上最高的山是哪座",
    "帮我翻译一下这句英文",
    "李白是哪个朝代的诗人",
    "怎么学好数学",
    "猫为什么喜欢睡觉",
    "明年春节是几号",
    "你会下围棋吗",
];

/// Everyday messages unrelated to a shop, trained as a background class so that an
/// unrelated message has somewhere to go besides the nearest real intent. Kept apart from
/// `OUT_OF_SCOPE_PHRASES`, which calibrate the thresholds and must stay unseen.
pub const BACKGROUND_PHRASES: &[&str] = &[
    "what is the meaning of life",
    "sing me a song",
    "how old is the universe",
    "who painted the Mona Lisa",
    "what's the best programming language",
    "how many calories are in an apple",
    "can you help me with my homework",
    "what should I cook for dinner tonight",
    "how do I learn to play guitar",
    "who will win the election",
    "what's your favourite colour",
    "are you a robot",
    "how tall is Mount Everest",
    "what's a good name for a dog",
    "how do planes fly",
    "play some music",
    "set an alarm for 7am",
    "what's the exchange rate of the dollar",
    "how do I lose weight fast",
    "why is the sky blue",
    "what happened in the news today",
    "book me a flight to Paris",
    "how do I write a cover letter",
    "which phone should I buy, iPhone or Android",
    "what is bitcoin",
    "人生的意义是什么",
    "给我唱首歌",
    "宇宙有多大",
    "蒙娜丽莎是谁画的",
    "今天晚饭吃什么好",
    "怎么学吉他",
    "你是机器人吗",
    "你喜欢什么颜色",
    "珠穆朗玛峰有多高",
    "给狗起个名字",
    "飞机为什么能飞",
    "帮我定个早上七点的闹钟",
    "美元汇率是多少",
    "怎么快速减肥",
    "天空为什么是蓝色的",
    "今天有什么新闻",
    "帮我订一张去上海的机票",
    "比特币是什么",
    "帮我写作业",
    "放首音乐",
];

/// What a classifier class stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum IntentLabel {
    Builtin(BuiltinIntent),
    Faq(FaqEntryId),
    /// Nothing the shop's bot handles (the background class).
    OutOfScope,
}

/// A phrase an admin taught an intent.
#[derive(Debug, Clone, Serialize)]
pub struct IntentPhrase {
    pub id: i64,
    pub intent: BuiltinIntent,
    pub text: String,
    pub created_at: Timestamp,
    pub created_by: Option<UserId>,
}

pub const PHRASE_MAX_CHARS: usize = 200;

/// A checked new phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntentPhrase {
    pub intent: BuiltinIntent,
    pub text: String,
    /// Phrases differing only in case, spacing or final punctuation are one phrase.
    pub text_key: String,
}

impl NewIntentPhrase {
    pub fn parse(intent: &str, text: &str) -> Result<NewIntentPhrase, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let intent = BuiltinIntent::parse(intent)
            .map_err(|e| errors.push(e))
            .ok();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let text_key = normalize_question(&text);
        if text_key.is_empty() {
            errors.push(ValidationError::new("text", "is missing"));
        }
        let chars = text.chars().count();
        if chars > PHRASE_MAX_CHARS {
            errors.push(ValidationError::new(
                "text",
                format!("is {chars} characters long; at most {PHRASE_MAX_CHARS}"),
            ));
        }
        match intent {
            Some(intent) if errors.is_empty() => Ok(NewIntentPhrase {
                intent,
                text,
                text_key,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_intent_has_phrases_in_both_languages() {
        for intent in BuiltinIntent::ALL {
            let phrases = intent.seed_phrases();
            let chinese = phrases
                .iter()
                .filter(|p| p.chars().any(super::super::knowledge::is_han))
                .count();
            assert!(chinese >= 5, "{intent:?} has {chinese} Chinese phrases");
            assert!(phrases.len() - chinese >= 5, "{intent:?} lacks English");
            assert_eq!(BuiltinIntent::parse(intent.as_str()), Ok(intent));
        }
    }

    #[test]
    fn a_new_phrase_is_checked_and_normalised() {
        let phrase = NewIntentPhrase::parse("human_request", "  Put me   through to staff! ")
            .expect("valid");
        assert_eq!(phrase.text, "Put me through to staff!");
        assert_eq!(phrase.text_key, "put me through to staff");
        let errors = NewIntentPhrase::parse("weather", " ").expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["intent", "text"]);
        let long = "啊".repeat(PHRASE_MAX_CHARS + 1);
        assert!(NewIntentPhrase::parse("greeting", &long).is_err());
    }
}
