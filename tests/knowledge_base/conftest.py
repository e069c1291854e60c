"""Fixtures for the retrieval tests: one USE encoder per session and a small knowledge base written per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.encoders import UsemEncoder
from knowledge_base.entries import Entry, load_entries

TEAM_YAML = """\
- id: legal-noise-001
  domain: legal
  topic: 噪音
  question: 楼上邻居半夜噪音很大怎么办
  paraphrases:
    - 楼上天天半夜蹦迪 吵得睡不着
    - 邻居晚上太吵了能报警吗
  answer: |
    1. 先和邻居好好说。
    2. 说不通找物业或居委会调解，夜里可以打110。
  basis:
    - 《民法典》第二百九十四条
  reviewed: 2026-11-20
- id: legal-wage-001
  domain: legal
  topic: 欠薪
  question: 老板拖欠工资不给怎么办
  paraphrases:
    - 干了三个月活老板不发钱
    - 工资被拖欠了去哪投诉
  answer: |
    1. 保留考勤、工资条和聊天记录。
    2. 打12333或到劳动监察大队投诉，也可以申请劳动仲裁。
  reviewed: 2026-11-20
- id: legal-divorce-001
  domain: legal
  topic: 离婚
  question: 离婚需要准备什么材料
  paraphrases:
    - 想离婚要带啥证件
    - 协议离婚去民政局要什么
  answer: |
    1. 双方身份证、户口本、结婚证和离婚协议书。
    2. 到婚姻登记处申请，三十天冷静期后再去领离婚证。
  reviewed: 2026-11-20
"""

PSYCH_SERVICE_YAML = """\
- id: psych-insomnia-001
  domain: psych
  topic: 失眠
  question: 晚上总是睡不着怎么办
  paraphrases:
    - 失眠好几天了很难受
    - 一躺下就胡思乱想睡不着
  answer: |
    1. 固定时间起床，白天少睡。
    2. 睡前一小时放下手机。
- id: psych-lonely-001
  domain: psych
  topic: 孤独
  question: 老人一个人在家很孤单
  paraphrases:
    - 老伴走了以后没人说话
    - 退休后觉得日子很空虚
  answer: |
    1. 参加社区的老年活动。
    2. 常和子女、老朋友打电话。
- id: service-dibao-001
  domain: service
  topic: 低保
  question: 低保怎么申请
  paraphrases:
    - 家里困难想吃低保咋整
    - 申请最低生活保障找谁
  answer: |
    1. 到户籍所在地的社区居委会或街道便民服务中心申请。
    2. 带上全家身份证和户口本。
- id: service-idcard-001
  domain: service
  topic: 身份证
  question: 身份证丢了怎么补办
  paraphrases:
    - 身份证掉了去哪补
    - 补办身份证要多久
  answer: |
    1. 带户口本到户籍所在地派出所办理。
    2. 急用可以同时办临时身份证。
- id: service-ebike-001
  domain: service
  topic: 电动车
  question: 电动车能不能在楼道里充电
  paraphrases:
    - 楼道里给电瓶车充电安全吗
    - 电瓶车推回家充电行不行
  answer: |
    1. 不要在楼道和家里充电，容易起火。
    2. 到小区集中充电桩充电。
"""

# Phrasings that appear nowhere in the fixture, each with the entry it should find.
PARAPHRASE_QUERIES = {
    "公司三个月没发工资了": "legal-wage-001",
    "我身份证弄丢了要怎么补": "service-idcard-001",
    "失眠了怎么办": "psych-insomnia-001",
    "想申请低保需要去哪里": "service-dibao-001",
    "办离婚手续要准备哪些东西": "legal-divorce-001",
    "楼上晚上太吵了": "legal-noise-001",
}


def write_team_files(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "legal_sample.yaml").write_text(TEAM_YAML, encoding="utf-8")
    (directory / "psych_service_sample.yaml").write_text(PSYCH_SERVICE_YAML, encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def encoder() -> UsemEncoder:
    """The bundled USE model, loaded once: its weights take about a second to read."""
    model = UsemEncoder()
    model.warm_up()
    return model


@pytest.fixture
def team_dir(tmp_path: Path) -> Path:
    return write_team_files(tmp_path / "team")


@pytest.fixture
def team_entries(team_dir: Path) -> list[Entry]:
    return load_entries(team_dir)
