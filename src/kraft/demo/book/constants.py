"""The book's public constants (docs/demo-book.md), its distributions and its word lists."""

from __future__ import annotations

import numpy as np

from kraft.schema.tables import PRODUCT_LINES

INITIATIVE_ID = "INIT-RETENTION"
INITIATIVE_NAME = "Client Retention Strategy"
RENEWAL_UPLIFT = 0.06  # participants' renewal probability on policies due after the start
PERSONALISED_P = (0.04, 0.30)  # share of policies personalised: in general, participants after
CSAT_UPLIFT = 0.3  # on the logit of a participant's satisfaction after the start
PARTICIPANT_SHARE = 0.35  # of the rm-role RMs employed at the initiative's start
RENEWAL_BAND = (0.75, 0.95)  # renewal probability (within grace) = band mapped by skill
GRACE_DAYS = 30
LATE_RENEWAL_DAYS = (31, 60)  # a late renewal: start_date − end_date in this range
LATE_SHARE = 0.25  # of the policies not renewed within grace, the share renewed late
FREE_LOOK_DAYS = 30
TEAM_SIZE = (6, 10)
TINY_BOOK = (1, 5)
MEAN_BOOK = 440.0  # mean pre-window clients per RM (≈ 500 clients per RM over 24 months)
SHARE_TINY, SHARE_JOINERS, SHARE_LEAVERS = 0.03, 0.08, 0.06
OTHER_RM_RENEWAL = 0.03  # a renewal written by another RM of the team
HANDOVER_DAYS = 180  # a leaver's policies ending later than exit − this go to a successor


# --- Distributions -----------------------------------------------------------------------------

# segments: retail, hni, sme, corporate
SEGMENT_P = np.array([0.80, 0.11, 0.07, 0.02])
SEGMENT_PREMIUM = np.array([1.0, 3.0, 8.0, 40.0])  # multiplier on the retail premium
# PRODUCT_LINES: life, health, motor, property, travel, other
LINE_WEIGHTS = np.array(
    [
        [0.22, 0.30, 0.38, 0.04, 0.04, 0.02],  # retail
        [0.30, 0.25, 0.20, 0.12, 0.08, 0.05],  # hni
        [0.10, 0.25, 0.20, 0.30, 0.03, 0.12],  # sme
        [0.10, 0.30, 0.15, 0.25, 0.05, 0.15],  # corporate
    ]
)
RETAIL_PREMIUM = np.array([50_000, 25_000, 15_000, 12_000, 3_000, 8_000], dtype=float)  # median
PREMIUM_SIGMA = 0.45
COVER_RATIO = np.array([130.0, 40.0, 33.0, 200.0, 500.0, 100.0])  # need ÷ premium, by line
ADEQUATE_P = 0.70
LIFE = PRODUCT_LINES.index("life")
# Early ends of a term, per term: free-look (new business only), mid-term cancellation, lapse
# for non-payment (by line), death (life), maturity (life, at the end of a term).
FREE_LOOK_P = 0.015
CANCEL_P = 0.012
LAPSE_P = np.array([0.035, 0.030, 0.008, 0.008, 0.005, 0.008])
DEATH_P = np.array([0.0052, 0, 0, 0, 0, 0])  # life claims are deaths: LR ≈ 0.52 % × 130 ≈ 68 %
MATURE_P = np.array([0.03, 0, 0, 0, 0, 0])
# Claims: frequency per policy-year and loss ratio on earned premium, by line (life: deaths).
CLAIM_FREQ = np.array([0.0, 0.09, 0.08, 0.035, 0.05, 0.04])
LOSS_RATIO = np.array([0.68, 0.82, 0.75, 0.68, 0.68, 0.70])  # non-life; life: DEATH_P
SETTLE_MEDIAN = np.array([14.0, 12.0, 12.0, 14.0, 13.0, 13.0])  # days, lognormal median
SETTLE_SIGMA = 0.55
CLAIM_SIGMA = 0.7  # amount claimed: lognormal around the mean the loss ratio implies
CLAIM_REJECT, CLAIM_WITHDRAW = 0.07, 0.04
PAID_SHARE = (0.75, 1.0)  # amount_paid ÷ amount_claimed, uniform
# Leads: source mix and base win probability by source; cross-sell leads have their own.
NEW_LEAD_SOURCE_P = np.array([0.25, 0.12, 0.25, 0.18, 0.13, 0.07])  # SOURCES order
CROSS_LEAD_SOURCE_P = np.array([0.0, 0.10, 0.27, 0.38, 0.10, 0.15])
WIN_BY_SOURCE = np.array([0.50, 0.26, 0.11, 0.10, 0.06, 0.13])
CROSS_SELL_WIN = 0.22
LEAD_DECISION_DAYS = 120  # a lead is decided within this many days of its creation
SKILL_LOGIT = 0.30  # a skill of +1 sd adds this to the logit of a win
NEW_CLIENTS_PER_MONTH = 0.012  # won new-client leads per month, × the RM's book size
JOINER_CLIENTS_PER_MONTH = 0.04
CROSS_SELLS_PER_MONTH = 0.006
CLIENT_SOURCE_P = np.array([0.20, 0.20, 0.20, 0.15, 0.10, 0.15])

FIRST_NAMES = (
    "Aarav Aditi Akash Amit Ananya Anil Anjali Arjun Deepa Divya Gaurav Harish Isha Kavita "
    "Kiran Lakshmi Manish Meera Mohan Neha Nikhil Pooja Priya Rahul Rajesh Ravi Rohan Sanjay "
    "Shreya Sneha Suresh Swati Tanvi Varun Vikram Vivek Yash Zoya Farhan Imran"
).split()
LAST_NAMES = (
    "Sharma Verma Gupta Iyer Nair Reddy Rao Patel Shah Mehta Joshi Kulkarni Deshpande Banerjee "
    "Chatterjee Das Bose Singh Chauhan Yadav Mishra Pandey Pillai Menon Kapoor Malhotra Khanna "
    "Agarwal Jain Bhatt Naidu Hegde Fernandes D'Souza Khan Qureshi Sethi Arora Gill Dutta"
).split()
COMPANY_WORDS = (
    "Traders Industries Logistics Textiles Foods Engineering Pharma Infra Motors Exports".split()
)
CITIES = (
    ("Mumbai", "West"),
    ("Delhi", "North"),
    ("Bengaluru", "South"),
    ("Kolkata", "East"),
    ("Chennai", "South"),
    ("Hyderabad", "South"),
    ("Pune", "West"),
    ("Ahmedabad", "West"),
    ("Jaipur", "North"),
    ("Lucknow", "North"),
    ("Bhopal", "Central"),
    ("Nagpur", "Central"),
    ("Indore", "Central"),
    ("Kochi", "South"),
    ("Patna", "East"),
    ("Bhubaneswar", "East"),
    ("Chandigarh", "North"),
    ("Guwahati", "East"),
    ("Surat", "West"),
    ("Coimbatore", "South"),
)
ZONES = ("North", "South", "East", "West", "Central")
PROSPECTING_SKILL = 0.4  # new-client leads a month scale by e^(0.4 s)
